using System.Diagnostics;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Domain.Audit;
using Portal.Domain.Broker;
using Portal.Domain.Trading;
using Portal.Features.Audit;
using Portal.Features.Live;
using Portal.Features.Observability;
using Portal.Features.Orders;
using Portal.Features.Risk;
using Portal.Infrastructure.Http;
using Portal.Infrastructure.Postgres;
using Prometheus;

namespace Portal.Features.Halt;

public sealed record HaltResult(
    string State, string Scope, DateTimeOffset HaltedAt, double RefusingAfterMs, double ElapsedMs,
    int CancelledOrders, int ClosedPositions, IReadOnlyList<string> Failures);

public sealed record ResumeRequestView(Guid Id, string Scope, string TargetMode, string Reason, string RequestedBy, DateTimeOffset RequestedAt,
    long HaltVersion, DateTimeOffset ExpiresAt);

public enum ResumeStatus { Resumed, PendingApproval, Refused, Rejected }

public sealed record ResumeOutcome(ResumeStatus Status, string Detail, ResumeRequestView? Request = null, TradingStateEntry? State = null);

/// <summary>
/// Halt and resume. A halt flips this instance first (orders are refused before anything else
/// happens), then writes Postgres and Redis at once; a failed Postgres write is reported and retried by the
/// reconcile loop while the halt holds. A halt never waits long on, or fails because of, a broken
/// dependency, and it always wins: it is written unconditionally, while a resume only ends the exact halt
/// (Postgres version) it was requested for. A resume is durable first, with its audit record in the same
/// transaction, and only when every dependency is healthy.
/// </summary>
public sealed class KillSwitch(
    TradingStateStore store, IBroker broker, BrokerKillPathSync brokerKillPath, RiskBook risk, SafeModeMonitor safeMode, AlertPublisher alerts, OpsEventBus live, AuditTrail audit, NpgsqlDataSource db,
    OrderStore orders, IOptions<HaltOptions> options, TimeProvider clock, ILogger<KillSwitch> logger)
{
    private static readonly Counter Halts = Metrics.CreateCounter("trading_kill_switch", "Kill switch activations (halts), by trigger.",
        new CounterConfiguration { LabelNames = ["trigger", "source"] });
    private static readonly TimeSpan DependencyTimeout = TimeSpan.FromSeconds(2);
    private const string RequestColumns = "id, scope, target_mode, reason, requested_by, requested_at, halt_version, expires_at";

    public async Task<HaltResult> HaltAsync(string reason, HaltMode mode, string? strategyId, string actor, bool automatic, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var scope = strategyId is null ? TradingScopes.Global : TradingScopes.ForStrategy(strategyId);
        var entry = store.HaltLocally(scope, reason, actor);
        var refusingAfter = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        // Other instances stop on the Redis message: it leaves before anything else is done here.
        var failures = new List<string>();
        var published = WithTimeout(_ => store.PublishAsync(entry), "redis", failures);
        var persisted = WithTimeout(token => store.PersistHaltAsync(entry, token), "postgres", failures);
        live.Publish(OpsEventTypes.TradingState, entry);
        Halts.WithLabels(automatic ? "automatic" : "manual", PortalMetrics.SourceOf(strategyId ?? "")).Inc();
        logger.LogCritical("HALT {Scope} by {Actor} ({Mode}): {Reason}", scope, actor, mode, reason);
        await Task.WhenAll(persisted, published);
        // After the halt is in Postgres, so no other instance can release the broker's switch on an older view (BrokerKillPathSync);
        // for a flatten, after its closing orders, which the switch would refuse.
        if (strategyId is null && mode != HaltMode.Flatten) await WithTimeout(brokerKillPath.EngageForHaltAsync, "broker kill path", failures);
        // The reply says what this instance's state in force is, read back from Postgres; if Postgres cannot be read, the
        // in-force state (this instance's halt, retried until it lands) with the failure listed.
        if (!failures.Any(f => f.StartsWith("postgres", StringComparison.Ordinal)))
            await WithTimeout(token => store.RefreshAsync(scope, token), "postgres read-back", failures);
        var durable = store.Durable(scope);
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
        if (strategyId is null && mode == HaltMode.Flatten) await WithTimeout(brokerKillPath.EngageForHaltAsync, "broker kill path", failures);
        risk.RequestSync();
        var result = Report(scope, entry, started, refusingAfter, cancelled, closed, failures);
        // The halt is in force whatever the audit trail does; its record lands as soon as the trail takes writes.
        _ = audit.AppendEventuallyAsync(AuditEventDraft.Create(entry.ChangedAt, actor, "trading.halted", scope, new
        {
            reason, mode = mode.ToString().ToLowerInvariant(), automatic, version = durable.Mode == TradingMode.Halted ? durable.Version : (long?)null,
            result.CancelledOrders, result.ClosedPositions, result.Failures, result.RefusingAfterMs,
        }));
        if (failures.Count > 0)
            alerts.Publish(AlertSeverity.Critical, "trading.halt_failures", $"Halt of {scope} has failures: {string.Join("; ", failures)}");
        return result;
    }

    /// <summary>
    /// Records a request to end the scope's current halt (its Postgres version), with its audit record in the same
    /// transaction. One request is pending per scope; it expires after <see cref="HaltOptions.ResumeRequestExpiry"/>.
    /// </summary>
    public async Task<ResumeOutcome> RequestResumeAsync(string reason, string? strategyId, TradingMode target, string actor, CancellationToken ct)
    {
        var scope = strategyId is null ? TradingScopes.Global : TradingScopes.ForStrategy(strategyId);
        if (ReasonText.Problem(reason) is { } problem) return new(ResumeStatus.Refused, "The reason " + problem);
        if (Unhealthy() is { } refusal) return refusal;
        var now = clock.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var halt = await TradingStateStore.LockAsync(connection, transaction, scope, ct);
        if (halt is null || halt.Mode == TradingMode.Active) return new(ResumeStatus.Refused, $"{scope} is not halted (in Postgres).");
        if (!options.Value.RequireSecondApprover)
        {
            var resumed = await ChangeModeAsync(connection, transaction, scope, target, reason, actor, "trading.resumed", halt.Version, now, new { haltVersion = halt.Version }, ct);
            return new(ResumeStatus.Resumed, await AfterResumeAsync(scope), State: resumed);
        }

        await ExpireAsync(connection, transaction, scope, now, ct);
        if (await PendingOfAsync(connection, transaction, scope, now, ct) is { } pending)
            return new(ResumeStatus.Refused, $"Resume request {pending.Id} for {scope} is already pending (by {pending.RequestedBy}); approve or reject it first.", pending);
        var request = new ResumeRequestView(Guid.CreateVersion7(now), scope, TradingModeText.Format(target), reason, actor, now, halt.Version,
            now + options.Value.ResumeRequestExpiry);
        await using (var insert = new NpgsqlCommand($"""
            insert into resume_requests ({RequestColumns}, state) values ($1, $2, $3, $4, $5, $6, $7, $8, 'pending') on conflict do nothing
            """, connection, transaction))
        {
            foreach (var value in new object[] { request.Id, scope, request.TargetMode, reason, actor, now, halt.Version, request.ExpiresAt })
                insert.Parameters.AddWithValue(value);
            // Another instance recorded one for the scope at the same moment (one pending per scope is a unique index).
            if (await insert.ExecuteNonQueryAsync(ct) != 1) return new(ResumeStatus.Refused, $"A resume request for {scope} is already pending; approve or reject it first.");
        }
        await AuditChainWriter.AppendAsync(connection, transaction, [AuditEventDraft.Create(now, actor, "trading.resume_requested", scope,
            new { requestId = request.Id, targetMode = request.TargetMode, reason, haltVersion = halt.Version, expiresAt = request.ExpiresAt })], ct);
        await transaction.CommitAsync(ct);
        alerts.Publish(AlertSeverity.Warning, "trading.resume_requested", $"Resume of {scope} requested by {actor}: {reason}. A second RiskOfficer must approve.");
        return new(ResumeStatus.PendingApproval, "A second, different RiskOfficer must approve.", request);
    }

    /// <summary>
    /// Ends the halt the request answers, only if it is still the scope's state in Postgres (a newer halt needs its own
    /// review), the request is pending and unexpired, and the approver is not the requester. All in one transaction.
    /// </summary>
    public async Task<ResumeOutcome> ApproveResumeAsync(Guid requestId, string approver, CancellationToken ct)
    {
        if (Unhealthy() is { } refusal) return refusal;
        var now = clock.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var (request, state) = await RequestAsync(connection, transaction, requestId, ct);
        if (request is null) return new(ResumeStatus.Refused, "No resume request has that id.");
        if (state != "pending") return new(ResumeStatus.Refused, $"The request was already decided ({state}).", request);
        if (request.ExpiresAt <= now)
        {
            await ExpireAsync(connection, transaction, request.Scope, now, ct);
            await transaction.CommitAsync(ct);
            return new(ResumeStatus.Refused, $"The request expired at {request.ExpiresAt:O}; request again.", request);
        }
        if (string.Equals(request.RequestedBy, approver, StringComparison.Ordinal))
            return new(ResumeStatus.Refused, "The approver must be a different RiskOfficer from the requester.", request);
        var halt = await TradingStateStore.LockAsync(connection, transaction, request.Scope, ct);
        if (halt is null || halt.Version != request.HaltVersion || halt.Mode == TradingMode.Active)
        {
            await DecideAsync(connection, transaction, requestId, "superseded", approver, now, ct);
            await transaction.CommitAsync(ct);
            return new(ResumeStatus.Refused, $"{request.Scope} changed after this request (it answered version {request.HaltVersion}; now version {halt?.Version ?? 0}, " +
                $"{TradingModeText.Format(halt?.Mode ?? TradingMode.Active)}): a newer halt needs its own review. Request again.", request);
        }
        await DecideAsync(connection, transaction, requestId, "approved", approver, now, ct);
        var resumed = await ChangeModeAsync(connection, transaction, request.Scope, TradingModeText.Parse(request.TargetMode), request.Reason,
            $"{request.RequestedBy}, approved by {approver}", "trading.resumed", halt.Version, now, new { requestId, approvedBy = approver, haltVersion = halt.Version }, ct);
        return resumed is null
            ? new(ResumeStatus.Refused, "The halt changed while approving; request again.", request)
            : new(ResumeStatus.Resumed, await AfterResumeAsync(request.Scope), request, resumed);
    }

    /// <summary>Ends a pending request without resuming; audited with it in one transaction.</summary>
    public async Task<ResumeOutcome> RejectResumeAsync(Guid requestId, string actor, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var (request, state) = await RequestAsync(connection, transaction, requestId, ct);
        if (request is null || state != "pending") return new(ResumeStatus.Refused, "No pending resume request has that id.", request);
        await DecideAsync(connection, transaction, requestId, "rejected", actor, now, ct);
        await AuditChainWriter.AppendAsync(connection, transaction, [AuditEventDraft.Create(now, actor, "trading.resume_rejected", request.Scope,
            new { requestId, requestedBy = request.RequestedBy, haltVersion = request.HaltVersion })], ct);
        await transaction.CommitAsync(ct);
        alerts.Publish(AlertSeverity.Info, "trading.resume_rejected", $"Resume of {request.Scope} requested by {request.RequestedBy} was rejected by {actor}.");
        return new(ResumeStatus.Rejected, "Rejected.", request);
    }

    /// <summary>
    /// Ends a readiness drill's halt of the drill strategy at once. Four-eyes protects real trading; the drill
    /// strategy never holds real positions, and the drill must leave it as it found it. Audited like any resume.
    /// </summary>
    public async Task<TradingStateEntry?> ResumeDrillStrategyAsync(string reason, string actor, CancellationToken ct)
    {
        var scope = TradingScopes.ForStrategy(Portal.Infrastructure.Redis.RateCounter.DrillStrategyId);
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var halt = await TradingStateStore.LockAsync(connection, transaction, scope, ct);
        if (halt is null || halt.Mode == TradingMode.Active) return null;
        return await ChangeModeAsync(connection, transaction, scope, TradingMode.Active, reason, actor, "trading.resumed", halt.Version, clock.GetUtcNow(), null, ct);
    }

    /// <summary>Pending, unexpired requests.</summary>
    public async Task<IReadOnlyList<ResumeRequestView>> PendingResumesAsync(CancellationToken ct)
    {
        await using var command = db.CreateCommand($"select {RequestColumns} from resume_requests where state = 'pending' and expires_at > $1 order by requested_at");
        command.Parameters.AddWithValue(clock.GetUtcNow());
        await using var reader = await command.ExecuteReaderAsync(ct);
        var result = new List<ResumeRequestView>();
        while (await reader.ReadAsync(ct)) result.Add(ReadRequest(reader));
        return result;
    }

    /// <summary>
    /// Moves an active strategy to reduce-only (an automatic restriction, e.g. its model drifted); a strategy already
    /// reduce-only or halted stays as it is, since this never loosens anything. Returns the strategy's state afterwards.
    /// </summary>
    public async Task<TradingStateEntry> ReduceOnlyAsync(string strategyId, string reason, string actor, CancellationToken ct)
    {
        var scope = TradingScopes.ForStrategy(strategyId);
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        return await ChangeModeAsync(connection, transaction, scope, TradingMode.ReduceOnly, reason, actor, "trading.reduce_only", null, clock.GetUtcNow(), null, ct)
            ?? await store.RefreshAsync(scope, ct);
    }

    /// <summary>
    /// Changes the mode (see <see cref="TradingStateStore.ChangeModeAsync"/> for the conditions) with its audit record and
    /// commits; then this instance applies it and tells the others. Unlike a halt, a change that cannot be recorded does not happen.
    /// </summary>
    private async Task<TradingStateEntry?> ChangeModeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string scope, TradingMode target, string reason,
        string actor, string eventType, long? expectedVersion, DateTimeOffset now, object? details, CancellationToken ct)
    {
        var entry = await TradingStateStore.ChangeModeAsync(connection, transaction, scope, target, reason, actor, now, expectedVersion, ct);
        if (entry is null) return null;
        await AuditChainWriter.AppendAsync(connection, transaction, [AuditEventDraft.Create(now, actor, eventType, scope,
            new { reason, mode = TradingModeText.Format(target), version = entry.Version, details })], ct);
        await transaction.CommitAsync(ct);
        store.ApplyWritten(entry);
        live.Publish(OpsEventTypes.TradingState, store.Get(scope));
        try
        {
            await store.PublishAsync(entry);
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
        {
            // Other instances pick the change up from Postgres on their next reconcile.
            logger.LogWarning(ex, "Change of {Scope} not published to Redis", scope);
        }
        logger.LogWarning("{Event} {Scope} to {Mode} by {Actor}: {Reason}", eventType, scope, target, actor, reason);
        alerts.Publish(AlertSeverity.Warning, eventType, eventType == "trading.resumed"
            ? $"Trading resumed ({scope}, {TradingModeText.Format(target)}) by {actor}: {reason}"
            : $"Trading restricted to {TradingModeText.Format(target)} ({scope}) by {actor}: {reason}");
        return entry;
    }

    /// <summary>A resumed global scope releases the broker's kill switch Portal engaged; a failure is retried by <see cref="BrokerKillPathSync"/>.</summary>
    private async Task<string> AfterResumeAsync(string scope)
    {
        if (scope != TradingScopes.Global) return "Resumed.";
        var failures = new List<string>();
        await WithTimeout(brokerKillPath.SyncAsync, "broker kill path", failures);
        return failures.Count == 0 ? "Resumed." : $"Resumed; not yet done: {failures[0]}";
    }

    private static async Task ExpireAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string scope, DateTimeOffset now, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            "update resume_requests set state = 'expired', decided_at = $2 where scope = $1 and state = 'pending' and expires_at <= $2", connection, transaction);
        command.Parameters.AddWithValue(scope);
        command.Parameters.AddWithValue(now);
        await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task DecideAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid id, string state, string decider, DateTimeOffset now, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            "update resume_requests set state = $2, decided_by = $3, decided_at = $4 where id = $1 and state = 'pending'", connection, transaction);
        command.Parameters.AddWithValue(id);
        command.Parameters.AddWithValue(state);
        command.Parameters.AddWithValue(decider);
        command.Parameters.AddWithValue(now);
        await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task<ResumeRequestView?> PendingOfAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string scope, DateTimeOffset now, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"select {RequestColumns} from resume_requests where scope = $1 and state = 'pending' and expires_at > $2",
            connection, transaction);
        command.Parameters.AddWithValue(scope);
        command.Parameters.AddWithValue(now);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadRequest(reader) : null;
    }

    /// <summary>The request and its state, locked for the decision.</summary>
    private static async Task<(ResumeRequestView? Request, string? State)> RequestAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid id, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"select {RequestColumns}, state from resume_requests where id = $1 for update", connection, transaction);
        command.Parameters.AddWithValue(id);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? (ReadRequest(reader), reader.GetString(8)) : (null, null);
    }

    private static ResumeRequestView ReadRequest(NpgsqlDataReader reader) => new(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
        reader.GetString(4), reader.GetFieldValue<DateTimeOffset>(5), reader.GetInt64(6), reader.GetFieldValue<DateTimeOffset>(7));

    private ResumeOutcome? Unhealthy() => safeMode.Reason is { } cause
        ? new(ResumeStatus.Refused, $"Resume is refused while a dependency is unhealthy (safe mode: {cause}).")
        : null;

    private async Task<int> CancelOpenOrdersAsync(string? strategyId, List<string> failures, CancellationToken ct)
    {
        try
        {
            if (strategyId is null) return (await broker.CancelAllOrdersAsync(ct)).Count;
            var cancelled = 0;
            foreach (var clientOrderId in await orders.CancellableOfStrategyAsync(strategyId, ct))
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

    /// <summary>The state reported is this instance's state in force of the scope, never assumed.</summary>
    private HaltResult Report(string scope, TradingStateEntry entry, long started, double refusingAfter, int cancelled, int closed, List<string> failures)
    {
        HaltResult result;
        var state = TradingModeText.Format(store.Get(scope).Mode);
        lock (failures)
            result = new HaltResult(state, scope, entry.ChangedAt, refusingAfter, Stopwatch.GetElapsedTime(started).TotalMilliseconds, cancelled, closed, failures.ToList());
        live.Publish(OpsEventTypes.HaltProgress, result);
        return result;
    }
}
