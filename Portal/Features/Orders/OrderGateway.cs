using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Domain.Audit;
using Portal.Domain.Broker;
using Portal.Domain.Orders;
using Portal.Domain.Risk;
using Portal.Domain.Trading;
using Portal.Features.Audit;
using Portal.Features.Auth;
using Portal.Features.Broker;
using Portal.Features.Halt;
using Portal.Features.Limits;
using Portal.Features.Live;
using Portal.Features.MarketData;
using Portal.Features.Observability;
using Portal.Features.Readiness;
using Portal.Features.Risk;
using Portal.Infrastructure.Postgres;
using Portal.Infrastructure.Redis;
using StackExchange.Redis;

namespace Portal.Features.Orders;

public enum OutcomeKind { Decided, Conflict, Unavailable, BrokerFailed }

public sealed record OrderOutcome(OutcomeKind Kind, OrderRow? Row, string? Detail = null);

/// <summary>
/// The one path every order takes, as four steps: refuse early (halted, safe mode, state not loaded); reserve the shared
/// rate counters; decide and record in one group-commit transaction under the account lock, against the account as
/// Postgres holds it (see <see cref="AccountAuthority"/>), with the paper broker's acknowledgement and fill in the same
/// transaction; send to an external broker once the decision is durable. Fails closed: if the limits, the account or
/// Redis cannot be trusted, the order is refused with <c>RiskStateUnavailable</c>; if the decision cannot be committed,
/// nothing is acknowledged. The decision's audit event (<c>order.accepted</c> / <c>order.rejected</c>) commits in the same
/// transaction, so an order that cannot be audited is not sent.
/// </summary>
public sealed class OrderGateway(
    RiskBook risk, LimitStore limits, RateCounter rates, RateCounterRestorer rateRestorer, IBroker broker, IEnumerable<IDecisionBroker> decisionBrokers,
    AccountAuthority authority, OrderStore store, GroupCommitter writer, PriceBook prices, MarketDataIngest marketData,
    TradingStateStore tradingState, SafeModeMonitor safeMode, AutoHaltMonitor autoHalt, DeploymentPhaseStore phases, OpsEventBus live, TimeProvider clock, ILogger<OrderGateway> logger,
    IOptions<ApiKeyOptions> keyOptions)
{
    /// <summary>Not a pure-check reason: the state needed to decide could not be read.</summary>
    public const string RiskStateUnavailable = "RiskStateUnavailable";

    /// <summary>Prefix of the reason for orders refused in safe mode, e.g. "SafeMode: redis-unreachable".</summary>
    public const string SafeModePrefix = "SafeMode: ";

    public static bool IsUnavailable(string? reason) =>
        reason == RiskStateUnavailable || (reason?.StartsWith(SafeModePrefix, StringComparison.Ordinal) ?? false);

    private readonly ConcurrentDictionary<string, Task<OrderOutcome>> _inFlight = new(StringComparer.Ordinal);
    // The broker whose submission commits with the decision, when the port says it can join the transaction.
    private readonly IDecisionBroker? _inDecision = broker.JoinsDecisionTransaction ? decisionBrokers.Single() : null;

    /// <param name="senderMayTradeStrategy">Whether the sender may trade the order's strategy (the API checked the key's grant;
    /// Portal's own senders trade their own strategies): only such senders' breaches count toward auto-halting it.</param>
    public async Task<OrderOutcome> SubmitAsync(ParsedOrder order, string actor, bool senderMayTradeStrategy, CancellationToken ct)
    {
        var hash = order.Hash();
        var mine = new TaskCompletionSource<OrderOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = _inFlight.GetOrAdd(order.ClientOrderId, mine.Task);
        if (running != mine.Task) return SameRequestOr409(await running, hash);
        try
        {
            var outcome = await DecideAsync(order, hash, actor, senderMayTradeStrategy, ct);
            mine.SetResult(outcome);
            return outcome;
        }
        catch (Exception ex)
        {
            mine.SetException(ex);
            throw;
        }
        finally
        {
            _inFlight.TryRemove(order.ClientOrderId, out _);
        }
    }

    public Task<OrderRow?> FindAsync(string clientOrderId, CancellationToken ct) => store.FindAsync(clientOrderId, ct);

    private async Task<OrderOutcome> DecideAsync(ParsedOrder order, byte[] hash, string actor, bool senderMayTradeStrategy, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var now = clock.GetUtcNow();
        var verdict = RefuseEarly(order.Intent) ?? await ReserveRateAsync(order, actor, now);
        var recorded = await RecordAsync(order, hash, actor, now, verdict);
        if (recorded.Row is not { Decision: "accepted" } row)
        {
            if (verdict.Reservation is { } reservation) await ReleaseRateAsync(order, actor, reservation, now);
            return await ConcludeRefusalAsync(order.ClientOrderId, recorded, hash, senderMayTradeStrategy, ct);
        }
        risk.RequestSync();
        var outcome = recorded.Joined is { } state ? Joined(row, state) : await SendToBrokerAsync(order, row, ct);
        Count(row);
        PortalMetrics.OrderDecisionSeconds.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        return outcome;
    }

    /// <summary>What the decision under the lock works from: a refusal made already, or the limits and the rate counts.</summary>
    /// <param name="Reservation">The rate counters' entry this attempt made, to take back if the order is not accepted.</param>
    private sealed record Verdict(RiskDecision? Decided = null, Refusal? Refusal = null, RiskLimits? Limits = null,
        OrderCounters Counters = default, string? Reservation = null);

    /// <summary>Step 1: a halt needs nothing but memory; then safe mode; then the state the decision needs must be there.</summary>
    private Verdict? RefuseEarly(in OrderIntent intent)
    {
        if (tradingState.ModeFor(intent.StrategyId) == TradingMode.Halted) return new Verdict(Decided: RiskDecision.Reject(RejectReason.TradingHalted, 0m, 0m));
        if (safeMode.Reason is { } cause)
            return new Verdict(Refusal: new Refusal(SafeModePrefix + cause, $"Portal is in safe mode ({cause}); new orders are refused until it clears."));
        if (limits.Current is null) return new Verdict(Refusal: Unavailable("limits are not loaded"));
        // An external broker's positions of record come from its last view; the paper broker's are read under the lock.
        if (_inDecision is null && !risk.IsReady) return new Verdict(Refusal: Unavailable("the broker's positions are not loaded"));
        return null;
    }

    /// <summary>
    /// Step 2: the order is counted in the shared rate counters before it is decided, and released if refused. Each attempt
    /// counts under an entry of its own: a repeat of a decided order (or the same order on two instances at once) takes back
    /// only its own entry, never the one of the order that was accepted.
    /// </summary>
    private async Task<Verdict> ReserveRateAsync(ParsedOrder order, string actor, DateTimeOffset now)
    {
        // The deployment phase's ceilings (e.g. Small Live's $100 positions) cap the operational limits.
        var current = phases.Cap(limits.Current!.Limits);
        var reservation = order.ClientOrderId + "#" + Guid.NewGuid().ToString("N");
        try
        {
            return new Verdict(Limits: current, Counters: await CountAsync(order.Intent.StrategyId, ApiKeyOf(actor), reservation, now), Reservation: reservation);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            logger.LogWarning(ex, "Rate counters unavailable; refusing order {ClientOrderId}", order.ClientOrderId);
            return new Verdict(Refusal: Unavailable("rate counters in Redis cannot be reached"));
        }
        catch (Exception ex) when (ex is RateCountersLostException or NpgsqlException)
        {
            logger.LogWarning(ex, "Rate counters lost in Redis and not restored; refusing order {ClientOrderId}", order.ClientOrderId);
            return new Verdict(Refusal: Unavailable("rate counters were lost in Redis and could not be rebuilt from Postgres"));
        }
    }

    /// <summary>The decision as committed: null row when the client order id was decided already; the broker's state when it joined.</summary>
    private sealed record Recorded(OrderRow? Row, BrokerOrderState? Joined, bool Failed = false);

    /// <summary>
    /// Step 3: decide under the account lock against the account as Postgres holds it (every order accepted and every fill
    /// made on any instance), record the decision and its audit event, and with the paper broker its acknowledgement and fill:
    /// one transaction. The decision may run more than once (a retried transaction), each time against the state then.
    /// </summary>
    private async Task<Recorded> RecordAsync(ParsedOrder order, byte[] hash, string actor, DateTimeOffset now, Verdict verdict)
    {
        var intent = order.Intent;
        var recorded = new Recorded(null, null);
        try
        {
            await writer.CommitAsync(authority.Unit(new AccountReads([order.ClientOrderId], DecisionsOnly: true), ledger =>
            {
                if (ledger.IsRecorded(order.ClientOrderId))
                {
                    recorded = new Recorded(null, null);
                    return UnitPlan.Nothing;
                }
                var referencePrice = prices.Get(intent.Symbol)?.Price;
                // The trading state now, not on arrival: a halt that came while the order waited for its counts or this lock applies.
                var decision = verdict.Decided ?? (verdict.Refusal is null
                    ? PreTradeCheck.Evaluate(intent, ledger.Snapshot(), verdict.Limits!, verdict.Counters, referencePrice, marketData.StatusOf(intent.Symbol), tradingState.ModeFor(intent.StrategyId))
                    : default);
                // Each key's own allowance, after the limits (Portal's own senders have none).
                if (decision.IsAccepted && verdict.Decided is null && ApiKeyOf(actor) is not null)
                    decision = PreTradeCheck.CheckKeyRates(keyOptions.Value.RateLimits, verdict.Counters);
                var row = NewRow(order, hash, actor, now, referencePrice, decision, verdict.Refusal);
                var accepted = row.Decision == "accepted";
                ledger.Recorded(order.ClientOrderId, accepted, intent.Symbol, intent.Side, intent.Quantity);
                var plan = new UnitPlanBuilder { Rows = { OrdersTable.Instance.Row(row) }, AuditEvents = { DecisionEvent(row) } };
                var joined = accepted ? _inDecision?.SubmitInDecision(BrokerRequest(order, row), ledger, plan) : null;
                if (joined is not null) Record(row, joined);
                recorded = new Recorded(row, joined);
                return plan.Build();
            }));
            return recorded;
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Could not record the decision for {ClientOrderId}; nothing acknowledged", order.ClientOrderId);
            return new Recorded(null, null, Failed: true);
        }
    }

    /// <summary>A refusal is durable (or the id was decided before, or nothing could be recorded): the answer.</summary>
    private async Task<OrderOutcome> ConcludeRefusalAsync(string clientOrderId, Recorded recorded, byte[] hash, bool senderMayTradeStrategy, CancellationToken ct)
    {
        if (recorded.Failed) return new OrderOutcome(OutcomeKind.Unavailable, null, "The decision could not be recorded durably; the order was not sent.");
        if (recorded.Row is not { } row)
        {
            // Another instance (or an earlier request) already decided this client order id.
            var existing = await FindAsync(clientOrderId, ct);
            return existing is null
                ? new OrderOutcome(OutcomeKind.Unavailable, null, "The earlier decision for this clientOrderId could not be read.")
                : SameRequestOr409(new OrderOutcome(OutcomeKind.Decided, existing), hash);
        }
        // Not awaited: the answer does not wait for the count (a halt it leads to applies to the orders after).
        _ = autoHalt.OnRejectedAsync(row, senderMayTradeStrategy);
        Count(row);
        return new OrderOutcome(OutcomeKind.Decided, row);
    }

    /// <summary>Step 4 with a broker that joined the decision: it already acknowledged (and maybe filled) the order.</summary>
    private OrderOutcome Joined(OrderRow row, BrokerOrderState state)
    {
        _inDecision!.Committed(state);
        return new OrderOutcome(OutcomeKind.Decided, row);
    }

    private static BrokerOrderRequest BrokerRequest(ParsedOrder order, OrderRow row) => new(row.Id, order.ClientOrderId, order.Intent.StrategyId,
        order.Intent.Symbol, order.Intent.Side, order.Intent.Quantity, order.Intent.Type, order.Intent.LimitPrice, order.TimeInForce);

    /// <summary>The broker's answer, as the order's row shows it.</summary>
    private static void Record(OrderRow row, BrokerOrderState state)
    {
        row.Status = OrderText.Format(state.Status);
        row.BrokerOrderId = state.BrokerOrderId;
        row.FilledQuantity = state.FilledQuantity;
        row.AvgFillPrice = state.AvgFillPrice;
        row.Message = state.RejectReason ?? row.Message;
    }

    /// <summary>Step 4 with an external broker: the decision is durable; now the broker hears of the order.</summary>
    private async Task<OrderOutcome> SendToBrokerAsync(ParsedOrder order, OrderRow row, CancellationToken ct)
    {
        try
        {
            Record(row, await broker.SubmitAsync(BrokerRequest(order, row), ct));
            return new OrderOutcome(OutcomeKind.Decided, row);
        }
        catch (BrokerException ex)
        {
            logger.LogError(ex, "Broker {Broker} failed order {ClientOrderId}: {Code}", broker.Name, order.ClientOrderId, ex.Code);
            var refused = ex.Kind == BrokerErrorKind.Rejected;
            row.Status = refused ? OrderStatuses.BrokerRejected : OrderStatuses.SubmitFailed;
            row.Message = $"Broker {broker.Name}: {ex.Message}";
            try
            {
                var now = clock.GetUtcNow();
                var update = OrderStore.SubmissionFailed(row.Id, row.Status, row.Message, now);
                await writer.CommitAsync(new PgWork(update)
                {
                    AuditEvents = [AuditEventDraft.Create(now, "broker:" + broker.Name, refused ? "order.broker_rejected" : "order.submit_failed", "order:" + row.ClientOrderId,
                        new { orderId = row.Id, clientOrderId = row.ClientOrderId, code = ex.Code, kind = ex.Kind.ToString(), message = row.Message })],
                    AuditWhen = () => update.RecordsAffected == 1,
                });
                // A lost reply is not a lost order: the broker's stream told of it meanwhile, and that record stands.
                if (update.RecordsAffected == 0 && await store.FindAsync(row.ClientOrderId, ct) is { } heard) return new OrderOutcome(OutcomeKind.Decided, heard);
            }
            catch (Exception writeFailure)
            {
                // The row stays pending_submit (still counted as working); reconciliation against the broker settles it.
                logger.LogError(writeFailure, "Could not record the broker failure of {ClientOrderId}", order.ClientOrderId);
            }
            return new OrderOutcome(OutcomeKind.BrokerFailed, row, row.Message);
        }
    }

    /// <summary>Counts the order; if Redis lost the counters, they are rebuilt from Postgres first, then it is counted once.</summary>
    private async Task<OrderCounters> CountAsync(string strategyId, string? apiKey, string reservation, DateTimeOffset now)
    {
        try
        {
            return await rates.ReserveAsync(strategyId, apiKey, reservation, now);
        }
        catch (RateCountersLostException)
        {
            await rateRestorer.RestoreAsync();
            return await rates.ReserveAsync(strategyId, apiKey, reservation, now);
        }
    }

    /// <summary>The API key an actor names ("apikey:&lt;id&gt;", as the orders table stores it), or null for Portal's own senders.</summary>
    public static string? ApiKeyOf(string actor) => actor.StartsWith(ApiKeyActorPrefix, StringComparison.Ordinal) ? actor : null;

    public const string ApiKeyActorPrefix = "apikey:";

    private async Task ReleaseRateAsync(ParsedOrder order, string actor, string reservation, DateTimeOffset reservedAt)
    {
        try
        {
            await rates.ReleaseAsync(order.Intent.StrategyId, ApiKeyOf(actor), reservation, reservedAt);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // An unreleased count only over-counts (refuses more) until its window passes: safe.
            logger.LogWarning(ex, "Could not release the rate reservation of {ClientOrderId}", order.ClientOrderId);
        }
    }

    private static OrderOutcome SameRequestOr409(OrderOutcome first, byte[] hash) =>
        first.Row is { } row && !row.RequestHash.AsSpan().SequenceEqual(hash)
            ? new OrderOutcome(OutcomeKind.Conflict, row, "This clientOrderId was already used for a different order.")
            : first;

    /// <summary>Metrics and the live blotter, for every decision once it is durable.</summary>
    private void Count(OrderRow row)
    {
        live.Publish(OpsEventTypes.OrderDecision, OrderDecisionEvent.From(row));
        var source = PortalMetrics.SourceOf(row.StrategyId);
        PortalMetrics.OrdersTotal.WithLabels(row.Decision, source).Inc();
        if (row.Decision != "rejected") return;
        PortalMetrics.OrdersRejected.WithLabels(row.Reason ?? "unknown", source).Inc();
        if (row.Reason is not null && row.Reason.StartsWith("Max", StringComparison.Ordinal)) PortalMetrics.RiskBreaches.WithLabels(row.Reason, source).Inc();
    }

    /// <summary>A refusal that is not a limit decision: the state needed to decide was not trustworthy.</summary>
    private sealed record Refusal(string Reason, string Message);

    private static Refusal Unavailable(string what) => new(RiskStateUnavailable, $"Risk state is unavailable: {what}.");

    /// <summary>What was decided, by whom and why; amounts as exact strings.</summary>
    private static AuditEventDraft DecisionEvent(OrderRow r) => AuditEventDraft.Create(
        r.CreatedAt, r.Actor, r.Decision == "accepted" ? "order.accepted" : "order.rejected", "order:" + r.ClientOrderId, new
        {
            orderId = r.Id,
            clientOrderId = r.ClientOrderId,
            strategyId = r.StrategyId,
            symbol = r.Symbol,
            side = r.Side,
            quantity = AuditTrail.Text(r.Quantity),
            orderType = r.OrderType,
            limitPrice = AuditTrail.Text(r.LimitPrice),
            timeInForce = r.TimeInForce,
            referencePrice = AuditTrail.Text(r.ReferencePrice),
            reason = r.Reason,
            limit = AuditTrail.Text(r.LimitValue),
            actual = AuditTrail.Text(r.ActualValue),
            message = r.Message,
        });

    private static OrderRow NewRow(ParsedOrder order, byte[] hash, string actor, DateTimeOffset now, decimal? referencePrice, RiskDecision decision, Refusal? refusal)
    {
        var intent = order.Intent;
        var accepted = refusal is null && decision.IsAccepted;
        var limitDecision = refusal is null && !accepted;
        return new OrderRow
        {
            Id = Guid.CreateVersion7(now),
            ClientOrderId = order.ClientOrderId,
            RequestHash = hash,
            StrategyId = intent.StrategyId,
            Symbol = intent.Symbol,
            Side = OrderText.Format(intent.Side),
            Quantity = intent.Quantity,
            OrderType = OrderText.Format(intent.Type),
            LimitPrice = intent.LimitPrice,
            TimeInForce = OrderText.Format(order.TimeInForce),
            Decision = accepted ? "accepted" : "rejected",
            Reason = refusal?.Reason ?? (accepted ? null : decision.Reason.ToString()),
            LimitValue = limitDecision ? decision.Limit : null,
            ActualValue = limitDecision ? decision.Actual : null,
            Message = refusal?.Message ?? (accepted ? null : decision.Describe()),
            ReferencePrice = referencePrice,
            Status = accepted ? OrderStatuses.PendingSubmit : OrderStatuses.Rejected,
            Actor = actor,
            CreatedAt = now,
            UpdatedAt = now,
        };
    }
}

/// <summary>What live views show of a decision.</summary>
public sealed record OrderDecisionEvent(
    Guid OrderId, string ClientOrderId, string StrategyId, string Symbol, string Side, decimal Quantity, string OrderType, decimal? LimitPrice,
    string Decision, string? Reason, string? Message, string Status, decimal? AvgFillPrice, DateTimeOffset At)
{
    public static OrderDecisionEvent From(OrderRow r) => new(r.Id, r.ClientOrderId, r.StrategyId, r.Symbol, r.Side, r.Quantity, r.OrderType,
        r.LimitPrice, r.Decision, r.Reason, r.Message, r.Status, r.AvgFillPrice, r.CreatedAt);
}
