using Npgsql;

namespace Portal.Features.Audit;

/// <summary>The newest seq committed to the chain, as the database announces it.</summary>
public interface IAuditAppendedFeed
{
    /// <summary>Raised with the newest committed seq after each append, by any instance.</summary>
    event Action<long>? Appended;
}

/// <summary>
/// Listens on the <c>audit_appended</c> channel (migrations/0009_audit_indexes.sql): the database notifies every
/// listening instance when an append commits, so live views need neither polling nor a second broadcast. Reconnects
/// with a growing pause when the connection drops.
/// </summary>
public sealed class AuditAppendedFeed(NpgsqlDataSource db, ILogger<AuditAppendedFeed> logger) : BackgroundService, IAuditAppendedFeed
{
    public const string Channel = "audit_appended";
    private static readonly TimeSpan MaxPause = TimeSpan.FromSeconds(10);

    public event Action<long>? Appended;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pause = TimeSpan.FromMilliseconds(200);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await db.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, e) =>
                {
                    if (long.TryParse(e.Payload, out var seq)) Raise(seq);
                };
                await using (var listen = new NpgsqlCommand("listen " + Channel, connection))
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                pause = TimeSpan.FromMilliseconds(200);
                while (true) await connection.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                logger.LogWarning("Live audit updates paused until Postgres answers: {Error}", ex.Message);
                await Task.Delay(pause, stoppingToken);
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, MaxPause.Ticks));
            }
        }
    }

    private void Raise(long seq)
    {
        var handlers = Appended;
        if (handlers is null) return;
        foreach (var handler in handlers.GetInvocationList().Cast<Action<long>>())
        {
            try
            {
                handler(seq);
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "An audit feed subscriber failed");
            }
        }
    }
}
