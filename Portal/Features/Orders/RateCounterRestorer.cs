using Portal.Domain.Audit;
using Portal.Features.Audit;
using Portal.Features.Limits;
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
public sealed class RateCounterRestorer(RateCounter rates, OrderStore orders, AuditTrail audit, TradingCalendar calendar, TimeProvider clock,
    ILogger<RateCounterRestorer> logger)
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
        var dayStart = calendar.DayStart(now);
        var minuteStart = now.AddMinutes(-1);
        var today = new Dictionary<string, long>(StringComparer.Ordinal);
        var todayByKey = new Dictionary<string, long>(StringComparer.Ordinal);
        // The orders table records the sending API key as the actor ("apikey:<id>"), so per-key counts are rebuilt too.
        foreach (var (strategyId, actor, count) in await orders.AcceptedCountsSinceAsync(dayStart, CancellationToken.None))
        {
            today[strategyId] = today.GetValueOrDefault(strategyId) + count;
            if (OrderGateway.ApiKeyOf(actor) is { } apiKey) todayByKey[apiKey] = todayByKey.GetValueOrDefault(apiKey) + count;
        }
        var lastMinute = (await orders.AcceptedAfterAsync(minuteStart, CancellationToken.None))
            .Select(o => (o.StrategyId, OrderGateway.ApiKeyOf(o.Actor), o.ClientOrderId, o.CreatedAt)).ToList();
        return new RateCounterSnapshot(now, today, lastMinute, todayByKey);
    }
}
