using Portal.Features.Cli;

namespace Portal.Features.Identity;

/// <summary>The user verbs of <c>dotnet Portal.dll</c>: <c>create-user</c>, and the demo users of <c>seed-demo</c>.</summary>
public static class IdentityCli
{
    public const string CreateUserUsage = "create-user --email EMAIL --role ROLE[,ROLE...] [--password PASSWORD | --password -]  (- reads it from stdin)";

    /// <summary>
    /// Creates one user. Without <c>--password</c> a random one is generated and printed once; with
    /// <c>--password -</c> it is read from standard input (keeps it out of the shell history).
    /// </summary>
    public static async Task<int> CreateUserAsync(IServiceProvider services, IReadOnlyDictionary<string, string> options,
        TextWriter output, TextWriter error, TextReader? input = null)
    {
        if (!options.TryGetValue("email", out var email) || !options.TryGetValue("role", out var roleList))
        {
            error.WriteLine("usage: dotnet Portal.dll " + CreateUserUsage);
            return 2;
        }
        var password = options.GetValueOrDefault("password");
        if (password == "-") password = (await (input ?? Console.In).ReadLineAsync())?.TrimEnd('\r', '\n');
        await using var scope = services.CreateAsyncScope();
        var accounts = scope.ServiceProvider.GetRequiredService<UserAccounts>();
        try
        {
            var roles = UserAccounts.CanonicalRoles(roleList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            if (roles.Count == 0) throw new ArgumentException("Give at least one role.");
            var created = await accounts.CreateAsync(email, roles, password, CliCommands.CliActor);
            output.WriteLine($"Created user {created.User.Email} with role {string.Join(",", roles)}.");
            if (created.PasswordGenerated)
            {
                output.WriteLine("Password (shown once; change it at /account/manage after signing in):");
                output.WriteLine(created.Password);
            }
            return 0;
        }
        catch (Exception ex) when (ex is ArgumentException or IdentityOperationException)
        {
            error.WriteLine(ex.Message);
            return 1;
        }
    }

    public const string SecondDemoRiskOfficer = "riskofficer2@portal.local";

    public static string DemoEmail(string role) => role.ToLowerInvariant() + "@portal.local";

    /// <summary>
    /// One user per role, e.g. oncall@portal.local, and a second RiskOfficer (riskofficer2@portal.local) so a four-eyes
    /// resume or limit change can be tried; each printed as <c>Demo user: EMAIL PASSWORD ROLE</c>.
    /// Passwords are random the first time and kept in <paramref name="usersFile"/> (under .data/, never
    /// in the repository), so later runs print the same ones; users are (re)created to match the file.
    /// </summary>
    public static async Task<int> SeedDemoUsersAsync(IServiceProvider services, string usersFile, TextWriter output)
    {
        var known = new Dictionary<string, string>(StringComparer.Ordinal);
        if (File.Exists(usersFile))
            foreach (var line in await File.ReadAllLinesAsync(usersFile))
                if (line.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [var email, var password, _]) known[email] = password;

        await using var scope = services.CreateAsyncScope();
        var accounts = scope.ServiceProvider.GetRequiredService<UserAccounts>();
        var lines = new List<string>();
        foreach (var (email, role) in Roles.All.Select(r => (DemoEmail(r), r)).Append((SecondDemoRiskOfficer, Roles.RiskOfficer)))
        {
            var password = known.GetValueOrDefault(email) ?? PasswordGenerator.Generate();
            await accounts.EnsureAsync(email, role, password, CliCommands.CliActor);
            lines.Add($"{email} {password} {role}");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(usersFile))!);
        await File.WriteAllLinesAsync(usersFile, lines);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(usersFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        foreach (var line in lines) output.WriteLine("Demo user: " + line);
        return 0;
    }
}
