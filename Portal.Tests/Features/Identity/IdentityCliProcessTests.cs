using System.Diagnostics;
using System.Text.RegularExpressions;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Identity;

/// <summary>
/// The verbs as an operator runs them: <c>dotnet Portal.dll ...</c> in a separate process, in the
/// Development environment (which validates the whole service graph on start, as ./run does).
/// </summary>
public sealed partial class IdentityCliProcessTests : IAsyncLifetime
{
    private string _connection = null!;
    private readonly string _dir = Directory.CreateTempSubdirectory("portal-cli-proc-").FullName;

    public async Task InitializeAsync() => (_connection, _) = await (await TestServices.GetAsync()).CreateDatabaseAsync();

    public Task DisposeAsync()
    {
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    private async Task<(int Code, string Out, string Err)> Portal(string environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = AppContext.BaseDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Portal.dll"));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment["ConnectionStrings__Postgres"] = _connection;
        info.Environment["ASPNETCORE_ENVIRONMENT"] = environment;
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    [Fact]
    public async Task Seed_demo_prints_the_key_and_one_line_per_role_plus_a_second_RiskOfficer_the_same_on_every_run()
    {
        var keyFile = Path.Combine(_dir, "demo-api-key");
        var first = await Portal("Development", "seed-demo", "--key-file", keyFile);
        Assert.True(first.Code == 0, first.Err);

        var lines = first.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.StartsWith("Demo API key: pk_", lines[0]);
        var users = lines.Where(l => l.StartsWith("Demo user:", StringComparison.Ordinal)).ToList();
        Assert.Equal(["Admin", "Compliance", "OnCall", "RiskOfficer", "RiskOfficer"], users.Select(l => DemoLine().Match(l).Groups["role"].Value).Order());
        Assert.True(File.Exists(Path.Combine(_dir, "demo-users")));

        var second = await Portal("Development", "seed-demo", "--key-file", keyFile);
        Assert.Equal(first.Out, second.Out);
    }

    [Fact]
    public async Task Seed_demo_refuses_production_and_create_user_makes_the_first_admin()
    {
        var refused = await Portal("Production", "seed-demo", "--key-file", Path.Combine(_dir, "k"));
        Assert.Equal(2, refused.Code);
        Assert.Contains("Production", refused.Err);

        var created = await Portal("Production", "create-user", "--email", "first@corp.example", "--role", "Admin");
        Assert.True(created.Code == 0, created.Err);
        Assert.Contains("Created user first@corp.example with role Admin.", created.Out);
        Assert.Matches(@"\n[A-Za-z0-9]{5}(-[A-Za-z0-9]{5}){3}\s*$", created.Out);

        var usage = await Portal("Production", "create-user", "--email", "x@corp.example");
        Assert.Equal(2, usage.Code);
        Assert.Contains("usage:", usage.Err);
    }

    [Fact]
    public async Task Create_api_key_needs_an_owner_an_existing_person_or_explicitly_none()
    {
        var missing = await Portal("Production", "create-api-key", "--name", "bot", "--scopes", "limits");
        Assert.Equal(2, missing.Code);
        Assert.Contains("--owner", missing.Err);
        var unknown = await Portal("Production", "create-api-key", "--name", "bot", "--scopes", "limits", "--owner", "ghost@corp.example");
        Assert.Equal(2, unknown.Code);
        Assert.Contains("ghost@corp.example", unknown.Err);

        Assert.Equal(0, (await Portal("Production", "create-user", "--email", "Owner@corp.example", "--role", "RiskOfficer")).Code);
        var owned = await Portal("Production", "create-api-key", "--name", "bot", "--scopes", "limits", "--owner", "owner@corp.example");
        Assert.True(owned.Code == 0, owned.Err);
        Assert.Contains("owner Owner@corp.example", owned.Out);
        var none = await Portal("Production", "create-api-key", "--name", "monitor", "--scopes", "halt", "--owner", "none");
        Assert.True(none.Code == 0, none.Err);
        Assert.Contains("owner none, does not expire", none.Out);

        var badExpiry = await Portal("Production", "create-api-key", "--name", "rotating", "--scopes", "halt", "--owner", "none", "--expires-in", "0");
        Assert.Equal(2, badExpiry.Code);
        Assert.Contains("--expires-in", badExpiry.Err);
        var rotating = await Portal("Production", "create-api-key", "--name", "rotating", "--scopes", "halt", "--owner", "none", "--expires-in", "90");
        Assert.True(rotating.Code == 0, rotating.Err);
        Assert.Contains($"expires {DateTime.UtcNow.AddDays(90):yyyy-MM-dd}", rotating.Out);
    }

    [GeneratedRegex("^Demo user: [^ ]+@portal\\.local [^ ]+ (?<role>[A-Za-z]+)$")]
    private static partial Regex DemoLine();
}
