using Microsoft.AspNetCore.DataProtection;
using Npgsql;

namespace Portal.Features.Identity;

/// <summary>
/// Makes sure the deployment has its data-protection key before anything seals, signs or reads with it. Instances started
/// together on an empty key table could each make a key of their own and, once past the two minutes in which Data
/// Protection re-reads the ring for an unknown key, refuse each other's session cookies and live events (reported as
/// forged) until their key rings next refresh, a day later. Under a PostgreSQL advisory lock the
/// first instance makes the key and the others, waiting their turn, read it.
/// </summary>
public sealed class SharedKeyRing(NpgsqlDataSource dataSource, IDataProtectionProvider dataProtection) : IHostedLifecycleService
{
    private const long LockKey = 0x504F5254414C_05; // "PORTAL" + 5

    /// <summary>Before any hosted service starts (it runs after <see cref="Infrastructure.Postgres.DatabaseRoleGuard"/> only).</summary>
    public Task StartingAsync(CancellationToken cancellationToken) => EnsureAsync(dataSource, dataProtection, cancellationToken);

    public static async Task EnsureAsync(NpgsqlDataSource dataSource, IDataProtectionProvider dataProtection, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand($"select pg_advisory_xact_lock({LockKey})", connection, transaction))
            await command.ExecuteNonQueryAsync(cancellationToken);
        // The key ring's first use reads the keys and makes one only if none is usable: here, one instance at a time.
        dataProtection.CreateProtector(nameof(SharedKeyRing)).Protect([]);
        await transaction.CommitAsync(cancellationToken);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
