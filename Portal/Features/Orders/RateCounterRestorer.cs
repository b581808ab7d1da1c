using Npgsql;
using Portal.Domain.Audit;
using Portal.Features.Audit;
using Portal.Features.Observability;
using Portal.Infrastructure.Redis;

namespace Portal.Features.Orders;

/// <summary>
/// Rebuilds the shared rate counters from the durable decisions after Redis lost them (a restart without
/// persistence, a FLUSHALL), so a strategy cannot get a fresh daily allowance from an outage. Concurrent
/// callers share one rebuild; each rebuild is recorded in the audit trail and counted in a metric.
/// Orders counted just before the loss whose decisions were not yet committed when the rebuild read them are missed:
/// at most the orders in flight at that instant.
/// </summary>
public sealed class RateCounterRestorer(RateCounter rates, NpgsqlDataSource db, AuditTrail audit, TimeProvider clock, ILogger<RateCounterRestorer> logger)
{
    private readonly Lock _gate = new();
    private Task? _running;

    public Task RestoreAsync()
    {
        lock (_gate)
        {
            if (_running is { IsCompleted: false }) return _running;
            return _running = RunAsync();
        }
    }

    private async Task RunAsync()
    {
        var now = clock.GetUtcNow();
        var snapshot = await ReadAsync(now);
        // A new Redis meets its first order the same way; with nothing counted today there is nothing to report.
        if (!await rates.RestoreAsync(snapshot) || snapshot.LastMinute.Count == 0 && snapshot.TodayByStrategy.Count == 0) return;
        var today = snapshot.TodayByStrategy.Values.Sum();
        PortalMetrics.RateCounterRestores.Inc();
        logger.LogWarning("Rate counters were lost in Redis and rebuilt from Postgres: {Today} orders today over {Strategies} strategies, {LastMinute} in the last minute",
            today, snapshot.TodayByStrategy.Count, snapshot.LastMinute.Count);
        _ = audit.AppendEventuallyAsync(AuditEventDraft.Create(now, "system:rate-counters", "rate_counters.restored", "redis",
            new { ordersToday = today, strategies = snapshot.TodayByStrategy.Count, ordersLastMinute = snapshot.LastMinute.Count }));
    }

    /// <summary>Accepted decisions count, as reservations do: a refused order releases its reservation.</summary>
    private async Task<RateCounterSnapshot> ReadAsync(DateTimeOffset now)
    {
        var dayStart = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        var minuteStart = now.AddMinutes(-1);
        await using var connection = await db.OpenConnectionAsync();
        var today = new Dictionary<string, long>(StringComparer.Ordinal);
        var todayByKey = new Dictionary<string, long>(StringComparer.Ordinal);
        // The orders table records the sending API key as the actor ("apikey:<id>"), so per-key counts are rebuilt too.
        await using (var command = new NpgsqlCommand(
            "select strategy_id, actor, count(*) from orders where decision = 'accepted' and created_at >= $1 group by strategy_id, actor", connection))
        {
            command.Parameters.AddWithValue(dayStart);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var (strategyId, count) = (reader.GetString(0), reader.GetInt64(2));
                today[strategyId] = today.GetValueOrDefault(strategyId) + count;
                if (OrderGateway.ApiKeyOf(reader.GetString(1)) is { } apiKey) todayByKey[apiKey] = todayByKey.GetValueOrDefault(apiKey) + count;
            }
        }
        var lastMinute = new List<(string, string?, string, DateTimeOffset)>();
        await using (var command = new NpgsqlCommand(
            "select strategy_id, actor, client_order_id, created_at from orders where decision = 'accepted' and created_at > $1", connection))
        {
            command.Parameters.AddWithValue(minuteStart);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
                lastMinute.Add((reader.GetString(0), OrderGateway.ApiKeyOf(reader.GetString(1)), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3)));
        }
        return new RateCounterSnapshot(now, today, lastMinute, todayByKey);
    }
}
