using System.Diagnostics;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Domain.Audit;
using Portal.Domain.Broker;
using Portal.Domain.Trading;
using Portal.Features.Audit;
using Portal.Features.Live;
using Portal.Features.Risk;
using Prometheus;

namespace Portal.Features.Halt;

public sealed record HaltResult(
    string State, string Scope, DateTimeOffset HaltedAt, double RefusingAfterMs, double ElapsedMs,
    int CancelledOrders, int ClosedPositions, IReadOnlyList<string> Failures);

public sealed record ResumeRequestView(Guid Id, string Scope, string TargetMode, string Reason, string RequestedBy, DateTimeOffset RequestedAt);

public enum ResumeStatus { Resumed, PendingApproval, Refused }

public sealed record ResumeOutcome(ResumeStatus Status, string Detail, ResumeRequestView? Request = null, TradingStateEntry? State = null);

/// <summary>
/// Halt and resume. A halt flips this instance first (orders are refused before anything else
/// happens), then writes Postgres and Redis at once; a failed write is reported and retried by the
/// reconcile loop while the halt holds. A halt never waits long on, or fails because of, a broken
/// dependency. A resume is the opposite: durable first, and only when every dependency is healthy.
/// </summary>
public sealed class KillSwitch(
    TradingStateStore store, IBroker broker, RiskBook risk, SafeModeMonitor safeMode, AlertPublisher alerts, OpsEventBus live, AuditTrail audit, NpgsqlDataSource db,
    IOptions<HaltOptions> options, TimeProvider clock, ILogger<KillSwitch> logger)
{
    private static readonly Counter Halts = Metrics.CreateCounter("trading_kill_switch", "Kill switch activations (halts), by trigger.",
        new CounterConfiguration { LabelNames = ["trigger"] });
    private static readonly TimeSpan DependencyTimeout = TimeSpan.FromSeconds(2);

    public async Task<HaltResult> HaltAsync(string reason, HaltMode mode, string? strategyId, string actor, bool automatic, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var scope = strategyId is null ? TradingScopes.Global : TradingScopes.ForStrategy(strategyId);
        var entry = store.Next(scope, TradingMode.Halted, reason, actor);
        store.Apply(entry);
        var refusingAfter = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        // Other instances stop on the Redis message: it leaves before anything else is done here.
        var failures = new List<string>();
        var published = WithTimeout(_ => store.PublishAsync(entry), "redis", failures);
        var persisted = WithTimeout(token => store.PersistAsync(entry, token), "postgres", failures);
        live.Publish(OpsEventTypes.TradingState, entry);
        Halts.WithLabels(automatic ? "automatic" : "manual").Inc();
        logger.LogCritical("HALT {Scope} by {Actor} ({Mode}): {Reason}", scope, actor, mode, reason);
        await Task.WhenAll(persisted, published);
        alerts.Publish(AlertSeverity.Critical, "trading.halted",
            $"Trading HALTED ({scope}) by {actor}: {reason}" + (failures.Count > 0 ? $" — not yet written to: {string.Join(", ", failures)}" : ""));
        Report(scope, entry, started, refusingAfter, 0, 0, failures);

        var cancelled = 0;
        var closed = 0;
        if (mode is HaltMode.Cancel or HaltMode.Flatten)
        {
            cancelled = await CancelOpenOrdersAsync(strategyId, failures, ct);
            Report(scope, entry, started, refusingAfter, cancelled, 0, failures);
        }
        if (mode == HaltMode.Flatten)
        {
            try
            {
                closed = (await broker.CloseAllPositionsAsync(ct)).Count(o => o.Status == BrokerOrderStatus.Filled);
            }
            catch (BrokerBatchException ex)
            {
                closed = ex.Completed.Count(o => o.Status == BrokerOrderStatus.Filled);
                failures.AddRange(ex.Failures.Select(f => $"close {f}"));
            }
            catch (BrokerException ex)
            {
                failures.Add($"close positions: {ex.Message}");
            }
        }
        risk.RequestSync();
        var result = Report(scope, entry, started, refusingAfter, cancelled, closed, failures);
        // The halt is in force whatever the audit trail does; its record lands as soon as the trail takes writes.
        _ = audit.AppendEventuallyAsync(AuditEventDraft.Create(entry.ChangedAt, actor, "trading.halted", scope, new
        {
            reason, mode = mode.ToString().ToLowerInvariant(), automatic, version = entry.Version,
            result.CancelledOrders, result.ClosedPositions, result.Failures, result.RefusingAfterMs,
        }));
        if (failures.Count > 0)
            alerts.Publish(AlertSeverity.Critical, "trading.halt_failures", $"Halt of {scope} has failures: {string.Join("; ", failures)}");
        return result;
    }

    public async Task<ResumeOutcome> RequestResumeAsync(string reason, string? strategyId, TradingMode target, string actor, CancellationToken ct)
    {
        var scope = strategyId is null ? TradingScopes.Global : TradingScopes.ForStrategy(strategyId);
        if (Unhealthy() is { } refusal) return refusal;
        if (store.Get(scope).Mode == TradingMode.Active) return new(ResumeStatus.Refused, $"{scope} is not halted.");
        if (!options.Value.RequireSecondApprover)
            return new(ResumeStatus.Resumed, "Resumed.", State: await ResumeNowAsync(scope, target, reason, actor, ct));

        await using var command = db.CreateCommand("""
            insert into resume_requests (id, scope, target_mode, reason, requested_by, requested_at, state)
            values ($1, $2, $3, $4, $5, $6, 'pending')
            """);
        var request = new ResumeRequestView(Guid.CreateVersion7(clock.GetUtcNow()), scope, TradingModeText.Format(target), reason, actor, clock.GetUtcNow());
        command.Parameters.AddWithValue(request.Id);
        command.Parameters.AddWithValue(scope);
        command.Parameters.AddWithValue(request.TargetMode);
        command.Parameters.AddWithValue(reason);
        command.Parameters.AddWithValue(actor);
        command.Parameters.AddWithValue(request.RequestedAt);
        await command.ExecuteNonQueryAsync(ct);
        await audit.AppendAsync(AuditEventDraft.Create(request.RequestedAt, actor, "trading.resume_requested", scope,
            new { requestId = request.Id, targetMode = request.TargetMode, reason }));
        alerts.Publish(AlertSeverity.Warning, "trading.resume_requested", $"Resume of {scope} requested by {actor}: {reason}. A second RiskOfficer must approve.");
        return new(ResumeStatus.PendingApproval, "A second, different RiskOfficer must approve.", request);
    }

    public async Task<ResumeOutcome> ApproveResumeAsync(Guid requestId, string approver, CancellationToken ct)
    {
        if (Unhealthy() is { } refusal) return refusal;
        var request = (await PendingResumesAsync(ct)).FirstOrDefault(r => r.Id == requestId);
        if (request is null) return new(ResumeStatus.Refused, "No pending resume request has that id.");
        if (string.Equals(request.RequestedBy, approver, StringComparison.Ordinal))
            return new(ResumeStatus.Refused, "The approver must be a different RiskOfficer from the requester.", request);

        await using var command = db.CreateCommand("""
            update resume_requests set state = 'approved', decided_by = $2, decided_at = $3 where id = $1 and state = 'pending'
            """);
        command.Parameters.AddWithValue(requestId);
        command.Parameters.AddWithValue(approver);
        command.Parameters.AddWithValue(clock.GetUtcNow());
        if (await command.ExecuteNonQueryAsync(ct) != 1) return new(ResumeStatus.Refused, "The request was already decided.", request);
        var state = await ResumeNowAsync(request.Scope, TradingModeText.Parse(request.TargetMode), request.Reason,
            $"{request.RequestedBy}, approved by {approver}", ct);
        return new(ResumeStatus.Resumed, "Resumed.", request, state);
    }

    /// <summary>
    /// Ends a readiness drill's halt of the drill strategy at once. Four-eyes protects real trading; the drill
    /// strategy never holds real positions, and the drill must leave it as it found it. Audited like any resume.
    /// </summary>
    public async Task<TradingStateEntry?> ResumeDrillStrategyAsync(string reason, string actor, CancellationToken ct)
    {
        var scope = TradingScopes.ForStrategy(Portal.Infrastructure.Redis.RateCounter.DrillStrategyId);
        if (store.Get(scope).Mode == TradingMode.Active) return null;
        return await ResumeNowAsync(scope, TradingMode.Active, reason, actor, ct);
    }

    public async Task<IReadOnlyList<ResumeRequestView>> PendingResumesAsync(CancellationToken ct)
    {
        await using var command = db.CreateCommand(
            "select id, scope, target_mode, reason, requested_by, requested_at from resume_requests where state = 'pending' order by requested_at");
        await using var reader = await command.ExecuteReaderAsync(ct);
        var result = new List<ResumeRequestView>();
        while (await reader.ReadAsync(ct))
            result.Add(new ResumeRequestView(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetString(4), reader.GetFieldValue<DateTimeOffset>(5)));
        return result;
    }

    /// <summary>
    /// Moves an active strategy to reduce-only (an automatic restriction, e.g. its model drifted); a strategy already
    /// reduce-only or halted stays as it is, since this never loosens anything. Returns the strategy's state afterwards.
    /// </summary>
    public async Task<TradingStateEntry> ReduceOnlyAsync(string strategyId, string reason, string actor, CancellationToken ct)
    {
        var scope = TradingScopes.ForStrategy(strategyId);
        if (store.Get(scope).Mode != TradingMode.Active) return store.Get(scope);
        return await ChangeModeDurablyAsync(scope, TradingMode.ReduceOnly, reason, actor, "trading.reduce_only", ct);
    }

    private Task<TradingStateEntry> ResumeNowAsync(string scope, TradingMode target, string reason, string actor, CancellationToken ct) =>
        ChangeModeDurablyAsync(scope, target, reason, actor, "trading.resumed", ct);

    private async Task<TradingStateEntry> ChangeModeDurablyAsync(string scope, TradingMode target, string reason, string actor, string eventType, CancellationToken ct)
    {
        var entry = store.Next(scope, target, reason, actor);
        // Unlike a halt, a resume (or restriction) that cannot be recorded does not happen.
        await audit.AppendAsync(AuditEventDraft.Create(entry.ChangedAt, actor, eventType, scope,
            new { reason, mode = TradingModeText.Format(target), version = entry.Version }));
        await store.PersistAsync(entry, ct);
        store.Apply(entry);
        live.Publish(OpsEventTypes.TradingState, entry);
        try
        {
            await store.PublishAsync(entry);
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
        {
            // Other instances pick the resume up from Postgres on their next reconcile.
            logger.LogWarning(ex, "Change of {Scope} not published to Redis", scope);
        }
        logger.LogWarning("{Event} {Scope} to {Mode} by {Actor}: {Reason}", eventType, scope, target, actor, reason);
        alerts.Publish(AlertSeverity.Warning, eventType, eventType == "trading.resumed"
            ? $"Trading resumed ({scope}, {TradingModeText.Format(target)}) by {actor}: {reason}"
            : $"Trading restricted to {TradingModeText.Format(target)} ({scope}) by {actor}: {reason}");
        return entry;
    }

    private ResumeOutcome? Unhealthy() => safeMode.Reason is { } cause
        ? new(ResumeStatus.Refused, $"Resume is refused while a dependency is unhealthy (safe mode: {cause}).")
        : null;

    private async Task<int> CancelOpenOrdersAsync(string? strategyId, List<string> failures, CancellationToken ct)
    {
        try
        {
            if (strategyId is null) return (await broker.CancelAllOrdersAsync(ct)).Count;
            var cancelled = 0;
            foreach (var clientOrderId in await OpenOrdersOfAsync(strategyId, ct))
            {
                try
                {
                    if (await broker.CancelOrderAsync(clientOrderId, ct) is { Status: BrokerOrderStatus.Canceled }) cancelled++;
                }
                catch (BrokerException ex)
                {
                    failures.Add($"cancel {clientOrderId}: {ex.Message}");
                }
            }
            return cancelled;
        }
        catch (BrokerBatchException ex)
        {
            failures.AddRange(ex.Failures.Select(f => $"cancel {f}"));
            return ex.Completed.Count;
        }
        catch (Exception ex) when (ex is BrokerException or NpgsqlException)
        {
            failures.Add($"cancel orders: {ex.Message}");
            return 0;
        }
    }

    private async Task<List<string>> OpenOrdersOfAsync(string strategyId, CancellationToken ct)
    {
        await using var command = db.CreateCommand(
            "select client_order_id from orders where strategy_id = $1 and status in ('pending_submit', 'new', 'partially_filled')");
        command.Parameters.AddWithValue(strategyId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var ids = new List<string>();
        while (await reader.ReadAsync(ct)) ids.Add(reader.GetString(0));
        return ids;
    }

    private static async Task WithTimeout(Func<CancellationToken, Task> write, string dependency, List<string> failures)
    {
        using var timeout = new CancellationTokenSource(DependencyTimeout);
        try
        {
            await write(timeout.Token).WaitAsync(timeout.Token);
        }
        catch (Exception ex)
        {
            lock (failures) failures.Add($"{dependency}: {ex.GetType().Name}: {ex.Message} (retrying until it lands)");
        }
    }

    private HaltResult Report(string scope, TradingStateEntry entry, long started, double refusingAfter, int cancelled, int closed, List<string> failures)
    {
        HaltResult result;
        lock (failures)
            result = new HaltResult("halted", scope, entry.ChangedAt, refusingAfter, Stopwatch.GetElapsedTime(started).TotalMilliseconds, cancelled, closed, failures.ToList());
        live.Publish(OpsEventTypes.HaltProgress, result);
        return result;
    }
}
