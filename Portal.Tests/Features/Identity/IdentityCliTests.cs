using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Portal.Features.Identity;
using Portal.Tests.Features.Audit;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Identity;

/// <summary>The create-user verb and the demo users of seed-demo, run against a test host's services.</summary>
public sealed partial class IdentityCliTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;
    private readonly string _dir = Directory.CreateTempSubdirectory("portal-cli-").FullName;

    public async Task InitializeAsync() => _portal = await PortalFactory.StartAsync();

    public async Task DisposeAsync()
    {
        await _portal.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<(int Code, string Out, string Err)> CreateUser(Dictionary<string, string> options, string? stdin = null)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var code = await IdentityCli.CreateUserAsync(_portal.Services, options, output, error, stdin is null ? null : new StringReader(stdin));
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Create_user_without_a_password_prints_a_generated_one_once_and_it_signs_in()
    {
        var (code, output, _) = await CreateUser(new() { ["email"] = "first.admin@corp.example", ["role"] = "admin" });

        Assert.Equal(0, code);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal("Created user first.admin@corp.example with role Admin.", lines[0]);
        var password = lines[^1];
        Assert.Matches("^[A-Za-z0-9]{5}(-[A-Za-z0-9]{5}){3}$", password);
        Assert.Single(lines, l => l.Contains(password, StringComparison.Ordinal));
        await _portal.SignInAsync(new TestUser("first.admin@corp.example", password, [Roles.Admin]));

        var created = Assert.Single(await _portal.EventsAsync("user.created"), e => e.Payload.GetProperty("email").GetString() == "first.admin@corp.example");
        Assert.Equal("cli:" + Environment.UserName, created.Actor);
        Assert.Equal(Roles.Admin, created.Payload.GetProperty("roles")[0].GetString());
        Assert.DoesNotContain(password, created.Payload.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_user_takes_a_password_from_stdin_and_several_roles_and_never_prints_it()
    {
        var password = "correct horse battery staple";
        var (code, output, _) = await CreateUser(new() { ["email"] = "desk@corp.example", ["role"] = "RiskOfficer,OnCall", ["password"] = "-" }, password + "\n");

        Assert.Equal(0, code);
        Assert.DoesNotContain(password, output);
        var client = await _portal.SignInAsync(new TestUser("desk@corp.example", password, []));
        Assert.Contains("OnCall", await client.GetStringAsync("/api/account/me"));
    }

    [Theory]
    [InlineData("someone@corp.example", "Trader", null, "'Trader' is not a role")]
    [InlineData("someone@corp.example", "OnCall", "short", "at least 12 characters")]
    [InlineData("not-an-email", "OnCall", null, "invalid")]
    public async Task Create_user_refuses_bad_input_with_a_reason(string email, string role, string? password, string reason)
    {
        var options = new Dictionary<string, string> { ["email"] = email, ["role"] = role };
        if (password is not null) options["password"] = password;
        var (code, _, error) = await CreateUser(options);
        Assert.Equal(1, code);
        Assert.Contains(reason, error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Create_user_refuses_a_taken_email_and_asks_for_missing_options()
    {
        Assert.Equal(0, (await CreateUser(new() { ["email"] = "twice@corp.example", ["role"] = "Compliance" })).Code);
        var (code, _, error) = await CreateUser(new() { ["email"] = "twice@corp.example", ["role"] = "Compliance" });
        Assert.Equal(1, code);
        Assert.Contains("already taken", error);
        Assert.Equal(2, (await CreateUser(new() { ["email"] = "x@corp.example" })).Code);
        Assert.Single(await _portal.EventsAsync("user.created"), e => e.Payload.GetProperty("email").GetString() == "twice@corp.example");
    }

    [Fact]
    public async Task Seed_demo_prints_one_user_per_role_and_a_second_RiskOfficer_and_reuses_the_passwords_on_the_next_run()
    {
        var file = Path.Combine(_dir, "demo-users");
        var first = await Seed(file);

        Assert.Equal(Roles.All.Count + 1, first.Count);
        var users = first.Select(line => DemoLine().Match(line)).ToList();
        Assert.All(users, m => Assert.True(m.Success, "not 'Demo user: <email> <password> <role>'"));
        Assert.Equal(Roles.All.Append(Roles.RiskOfficer).Order(), users.Select(m => m.Groups["role"].Value).Order());
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        foreach (var m in users)
        {
            var client = await _portal.SignInAsync(new TestUser(m.Groups["email"].Value, m.Groups["password"].Value, []));
            Assert.Contains(m.Groups["role"].Value, await client.GetStringAsync("/api/account/me"));
        }

        // Someone changed a demo user; the next run puts it back as the file says.
        await using (var scope = _portal.Services.CreateAsyncScope())
        {
            var manager = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
            var onCall = (await manager.FindByEmailAsync(IdentityCli.DemoEmail(Roles.OnCall)))!;
            await manager.RemovePasswordAsync(onCall);
            await manager.AddPasswordAsync(onCall, "a different password");
            await manager.AddToRoleAsync(onCall, Roles.Admin);
            await manager.SetLockoutEndDateAsync(onCall, DateTimeOffset.UtcNow.AddMinutes(10));
        }
        Assert.Equal(first, await Seed(file));
        var again = users.Single(m => m.Groups["role"].Value == Roles.OnCall);
        var onCallClient = await _portal.SignInAsync(new TestUser(again.Groups["email"].Value, again.Groups["password"].Value, []));
        Assert.DoesNotContain(Roles.Admin, await onCallClient.GetStringAsync("/api/account/me"));
        // Each thing the seed put back is on the record, by whoever ran it.
        var putBack = (await _portal.EventsAsync("user.")).Where(e => e.Actor == "cli:" + Environment.UserName
            && e.Payload.GetProperty("email").GetString() == IdentityCli.DemoEmail(Roles.OnCall) && e.Type != "user.created").Select(e => e.Type);
        Assert.Equal(["user.password_changed", "user.role_removed", "user.unlocked"], putBack);
    }

    private async Task<List<string>> Seed(string file)
    {
        var output = new StringWriter();
        Assert.Equal(0, await IdentityCli.SeedDemoUsersAsync(_portal.Services, file, output));
        return output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
    }

    [GeneratedRegex("^Demo user: (?<email>[^ ]+@[^ ]+) (?<password>[^ ]+) (?<role>RiskOfficer|OnCall|Compliance|Admin)$")]
    private static partial Regex DemoLine();
}
