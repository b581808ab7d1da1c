using Microsoft.Extensions.Options;
using Npgsql;

namespace Portal.Infrastructure.Postgres;

/// <summary>
/// Refuses start-up when the application's role could switch off the audit trail's protections: a superuser, or a
/// role that owns an audit table or is a member of the role that does (an owner can disable the append-only triggers).
/// Runs before any other hosted service starts (it is registered first, and checks while services are starting), so
/// nothing is written under such a role.
/// </summary>
public sealed class DatabaseRoleGuard(NpgsqlDataSource db) : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        await using var command = db.CreateCommand("""
            select r.rolname, r.rolsuper,
                   coalesce((select string_agg(t.tablename || ' (owner ' || t.tableowner || ')', ', ' order by t.tablename)
                             from pg_tables t
                             where t.schemaname = current_schema() and t.tablename like 'audit\_%'
                               and pg_has_role(r.rolname, t.tableowner, 'MEMBER')), '')
            from pg_roles r where r.rolname = current_user
            """);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var (role, superuser, owned) = (reader.GetString(0), reader.GetBoolean(1), reader.GetString(2));
        var failures = new List<string>();
        if (superuser)
            failures.Add($"ConnectionStrings:{PostgresSetup.ConnectionName}: the application role '{role}' is a superuser; give Portal a role that only reads and writes rows (docs/security.md).");
        else if (owned.Length > 0)
            failures.Add($"ConnectionStrings:{PostgresSetup.ConnectionName}: the application role '{role}' owns, or is a member of the owner of, {owned}: it could disable the audit trail's triggers; use a role that is neither (docs/security.md).");
        if (failures.Count > 0) throw new OptionsValidationException(PostgresSetup.ConnectionName, typeof(NpgsqlDataSource), failures);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
