using Microsoft.AspNetCore.Identity;
using Portal.Features.Audit;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Infrastructure.Postgres;

namespace Portal.Features.Cli;

/// <summary>Administrative verbs: <c>dotnet Portal.dll VERB ...</c>. They use the same configuration as the server.</summary>
public static class CliCommands
{
    private static readonly string[] Verbs =
        ["migrate", "create-api-key", "revoke-api-key", "create-user", "seed-demo", "healthcheck", AuditCli.GenerateKey, AuditCli.VerifyExport];

    /// <summary>Who the audit trail names for changes made here: the operating-system user running the verb.</summary>
    internal static string CliActor => "cli:" + Environment.UserName;

    public static bool IsVerb(string[] args) => args.Length > 0 && Verbs.Contains(args[0]);

    public static async Task<int> RunAsync(string[] args)
    {
        var verb = args[0];
        var options = ParseOptions(args.Skip(1).ToArray());
        // These two need no configuration or database: they run anywhere the export or the key is.
        if (verb == AuditCli.GenerateKey) return AuditCli.GenerateKeyFile(options.GetValueOrDefault("out"), Console.Out, Console.Error);
        if (verb == AuditCli.VerifyExport) return AuditCli.VerifyExportFile(args[1..], Console.Out, Console.Error);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] });
        if (verb == "migrate")
        {
            DatabaseMigrator.Migrate(builder.Configuration, Console.Out);
            return 0;
        }
        if (verb == "healthcheck") return await HealthcheckAsync(options.GetValueOrDefault("url") ?? "http://127.0.0.1:8080/health/live");
        builder.AddPostgres();
        builder.Services.AddMemoryCache();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ApiKeyService>();
        builder.Services.AddPortalIdentityStores();
        await using var app = builder.Build();
        var keys = app.Services.GetRequiredService<ApiKeyService>();
        switch (verb)
        {
            case "create-api-key":
            {
                if (!options.TryGetValue("name", out var name) || !options.TryGetValue("scopes", out var scopeList) || !options.TryGetValue("owner", out var ownerOption))
                    return Usage(CreateApiKeyUsage);
                var scopes = scopeList == "all" ? Scopes.All.ToArray() : scopeList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                // The strategies an orders key may trade: listed, or an explicit '*' for every id not reserved to Portal. None by default.
                var strategies = options.GetValueOrDefault("strategies")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
                if (scopes.Contains(Scopes.Orders) && strategies.Length == 0)
                    return Usage("create-api-key: a key with the orders scope needs --strategies ID[,ID...] (or --strategies '*' for every non-reserved id)");
                int? expiresInDays = null;
                if (options.TryGetValue("expires-in", out var days))
                {
                    if (!int.TryParse(days, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var d) || d is < 1 or > ApiKeyService.MaxExpiryDays)
                        return Usage($"create-api-key: --expires-in must be a whole number of days from 1 to {ApiKeyService.MaxExpiryDays}");
                    expiresInDays = d;
                }
                try
                {
                    var owner = await KeyOwnerAsync(app.Services, ownerOption);
                    var (key, record) = await keys.CreateAsync(name, scopes, CliActor, strategies, owner,
                        expiresInDays is { } inDays ? keys.ExpiryIn(inDays) : null);
                    var expiry = record.ExpiresAt is { } at ? $"expires {at.UtcDateTime:yyyy-MM-dd HH:mm} UTC" : "does not expire";
                    Console.WriteLine($"Created API key '{record.Name}' (id {record.Id}, scopes {string.Join(",", record.Scopes)}, strategies {string.Join(",", record.Strategies ?? [])}, owner {record.Owner ?? "none"}, {expiry}). It is shown once:");
                    Console.WriteLine(key);
                    return 0;
                }
                catch (ArgumentException ex)
                {
                    Console.Error.WriteLine(ex.Message);
                    return 2;
                }
            }
            case "revoke-api-key":
                if (!options.TryGetValue("name", out var revokeName)) return Usage("revoke-api-key --name NAME");
                if (await keys.RevokeAsync(revokeName, CliActor)) { Console.WriteLine($"Revoked API key '{revokeName}'."); return 0; }
                Console.Error.WriteLine($"No active API key is named '{revokeName}'.");
                return 1;
            case "create-user":
                return await IdentityCli.CreateUserAsync(app.Services, options, Console.Out, Console.Error);
            case "seed-demo":
            {
                if (app.Environment.IsProduction()) { Console.Error.WriteLine("seed-demo prints passwords: it refuses to run in Production."); return 2; }
                var keyFile = options.GetValueOrDefault("key-file") ?? ".data/demo-api-key";
                var seeded = await SeedDemoAsync(keys, keyFile, app.Services.GetRequiredService<TimeProvider>());
                return seeded != 0 ? seeded : await IdentityCli.SeedDemoUsersAsync(app.Services,
                    options.GetValueOrDefault("users-file") ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(keyFile))!, "demo-users"), Console.Out);
            }
            default:
                return Usage(string.Join(" | ", Verbs));
        }
    }

    public const string CreateApiKeyUsage =
        "create-api-key --name NAME --scopes orders[,ticks,observations,halt,flatten,limits,audit] [--strategies ID[,ID...] | --strategies '*'] --owner EMAIL|none [--expires-in DAYS]  (the person answerable for the key, or none; without --expires-in it works until revoked)";

    /// <summary>
    /// <c>--owner</c> is required so that a key nobody answers for is a choice, not an omission: <c>none</c>, or the email of
    /// an existing person, stored as their user name (four-eyes compares it with whoever approves the key's changes).
    /// </summary>
    private static async Task<string?> KeyOwnerAsync(IServiceProvider services, string owner)
    {
        if (string.Equals(owner, "none", StringComparison.OrdinalIgnoreCase)) return null;
        await using var scope = services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
        var user = await users.FindByEmailAsync(owner.Trim()) ?? await users.FindByNameAsync(owner.Trim())
            ?? throw new ArgumentException($"No person has the email '{owner}'; create them first (create-user) or use --owner none.", nameof(owner));
        return user.UserName ?? user.Email;
    }

    /// <summary>
    /// Development only: one all-scope key (no owner) that may trade every non-reserved strategy, kept in a local file (never the
    /// repository) so every run prints the same one. A demo key from before strategy grants is replaced.
    /// </summary>
    private static async Task<int> SeedDemoAsync(ApiKeyService keys, string keyFile, TimeProvider clock)
    {
        var key = File.Exists(keyFile) ? (await File.ReadAllTextAsync(keyFile)).Trim() : null;
        var current = key is null ? null : await keys.ValidateAsync(key, CancellationToken.None);
        if (current is not { Strategies: [StrategyGrants.AllOpen] })
        {
            // Names stay taken after revocation: each replacement gets a new one.
            if (current is not null) await keys.RevokeAsync(current.Name, CliActor);
            (key, _) = await keys.CreateAsync($"demo-{clock.GetUtcNow():yyyyMMddHHmmss}", Scopes.All.ToArray(), CliActor, [StrategyGrants.AllOpen]);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(keyFile))!);
            await File.WriteAllTextAsync(keyFile, key);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        Console.WriteLine($"Demo API key: {key}");
        return 0;
    }

    /// <summary>For container health checks: the runtime image has no curl.</summary>
    private static async Task<int> HealthcheckAsync(string url)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        try
        {
            using var response = await client.GetAsync(url);
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            Console.Error.WriteLine($"{url}: {ex.Message}");
            return 1;
        }
    }

    private static Dictionary<string, string> ParseOptions(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
            if (args[i].StartsWith("--", StringComparison.Ordinal))
                options[args[i][2..]] = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : "true";
        return options;
    }

    private static int Usage(string text)
    {
        Console.Error.WriteLine("usage: dotnet Portal.dll " + text);
        return 2;
    }
}
