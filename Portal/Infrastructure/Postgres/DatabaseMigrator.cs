using DbUp;
using DbUp.Engine.Output;
using Npgsql;

namespace Portal.Infrastructure.Postgres;

/// <summary>
/// Applies the SQL files of <c>migrations/</c> in name order, once each, as the schema owner.
/// An advisory lock lets several instances start at once without racing. Then installs or upgrades Hangfire's
/// schema, also as the owner, so that the application role needs no right to create anything.
/// </summary>
public static class DatabaseMigrator
{
    private const long MigrationLockKey = 0x504F5254414C_01; // "PORTAL" + 1

    public static void Migrate(IConfiguration configuration, TextWriter log, string? scriptsDirectory = null)
    {
        var appConnection = PostgresSetup.RequiredConnectionString(configuration, PostgresSetup.ConnectionName);
        // Never the application's connection: the role that migrates owns the tables, and the application's must not.
        var ownerConnection = PostgresSetup.RequiredConnectionString(configuration, PostgresSetup.MigrationsConnectionName);
        var appRole = new NpgsqlConnectionStringBuilder(appConnection).Username
            ?? throw new InvalidOperationException("ConnectionStrings:Postgres must name a Username (the application role).");
        if (new NpgsqlConnectionStringBuilder(ownerConnection).Username == appRole)
            throw new InvalidOperationException($"ConnectionStrings:{PostgresSetup.MigrationsConnectionName} names the application role '{appRole}': migrations run as the schema owner, a different role.");
        scriptsDirectory ??= Path.Combine(AppContext.BaseDirectory, "migrations");

        using var lockConnection = new NpgsqlConnection(ownerConnection);
        lockConnection.Open();
        using (var command = new NpgsqlCommand($"select pg_advisory_lock({MigrationLockKey})", lockConnection))
            command.ExecuteNonQuery();

        var result = DeployChanges.To.PostgresqlDatabase(ownerConnection)
            .WithScriptsFromFileSystem(scriptsDirectory)
            .WithVariable("app_role", QuoteIdentifier(appRole))
            .WithTransactionPerScript()
            .LogTo(new WriterLog(log))
            .Build()
            .PerformUpgrade();
        if (!result.Successful)
            throw new InvalidOperationException($"Migration {result.ErrorScript?.Name} failed: {result.Error.Message}", result.Error);
        Portal.Jobs.JobsSetup.InstallSchema(lockConnection, QuoteIdentifier(appRole));
    }

    private static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private sealed class WriterLog(TextWriter writer) : IUpgradeLog
    {
        public void LogTrace(string format, params object[] args) { }
        public void LogDebug(string format, params object[] args) { }
        public void LogInformation(string format, params object[] args) => writer.WriteLine(string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args));
        public void LogWarning(string format, params object[] args) => writer.WriteLine("warning: " + string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args));
        public void LogError(string format, params object[] args) => writer.WriteLine("error: " + string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args));
        public void LogError(Exception ex, string format, params object[] args) => LogError(format + " " + ex.Message, args);
    }
}
