using Microsoft.EntityFrameworkCore;
using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;
using Portal.Domain.Audit;
using Portal.Domain.Broker;
using Portal.Domain.Risk;
using Portal.Domain.Trading;
using Microsoft.Extensions.Options;
using Portal.Features.Audit;
using Portal.Features.Auth;
using Portal.Features.Broker;
using Portal.Features.Halt;
using Portal.Features.Limits;
using Portal.Features.Live;
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
/// The one path every order takes: pre-trade check with reservation, shared rate counters, a
/// durable decision row committed (group commit) before anything else, then the broker. The in-process paper broker's
/// writes for an accepted order go in the decision's transaction instead (one commit, not two; see
/// <see cref="PaperBroker.PrepareWithDecisionAsync"/>); an external broker is called once the decision is durable. Fails
/// closed: if the limits, the portfolio view or Redis cannot be trusted, the order is refused
/// with <c>RiskStateUnavailable</c>; if the decision cannot be committed, nothing is acknowledged. The decision's
/// audit event (<c>order.accepted</c> / <c>order.rejected</c>) commits in the same transaction, so an order that
/// cannot be audited is not sent.
/// </summary>
public sealed class OrderGateway(
    RiskBook risk, LimitStore limits, RateCounter rates, RateCounterRestorer rateRestorer, IBroker broker, GroupCommitter writer, IDbContextFactory<PortalDbContext> dbFactory,
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
    // The in-process paper broker, whose writes for an accepted order commit with the decision; null with an external broker.
    private readonly PaperBroker? _paper = broker as PaperBroker;

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

    public async Task<OrderRow?> FindAsync(string clientOrderId, CancellationToken ct)
    {
        await using var context = await dbFactory.CreateDbContextAsync(ct);
        return await context.Orders.AsNoTracking().SingleOrDefaultAsync(o => o.ClientOrderId == clientOrderId, ct);
    }

    private async Task<OrderOutcome> DecideAsync(ParsedOrder order, byte[] hash, string actor, bool senderMayTradeStrategy, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var now = clock.GetUtcNow();
        var intent = order.Intent;
        RiskDecision decision = default;
        decimal? referencePrice = null;
        var reserved = false;
        var countedRate = false;
        Refusal? refusal = null;

        // A halt is checked first and needs nothing but memory; then safe mode; then the limits.
        var mode = tradingState.ModeFor(intent.StrategyId);
        if (mode == TradingMode.Halted)
            decision = RiskDecision.Reject(RejectReason.TradingHalted, 0m, 0m);
        else if (safeMode.Reason is { } cause)
            refusal = new Refusal(SafeModePrefix + cause, $"Portal is in safe mode ({cause}); new orders are refused until it clears.");
        else if (limits.Current is not { } loaded)
            refusal = Unavailable("limits are not loaded");
        else if (!risk.IsReady)
            refusal = Unavailable("the portfolio view is not loaded");
        else if (_paper is { IsLoaded: false })
            refusal = Unavailable("the paper broker is loading its state from Postgres");
        else
        {
            // The deployment phase's ceilings (e.g. Small Live's $100 positions) cap the operational limits.
            var current = phases.Cap(loaded.Limits);
            decision = risk.DecideAndReserve(order.ClientOrderId, intent, current, mode, out referencePrice);
            reserved = decision.IsAccepted;
            if (decision.IsAccepted)
            {
                try
                {
                    var counters = await ReserveRateAsync(intent.StrategyId, ApiKeyOf(actor), order.ClientOrderId, now);
                    countedRate = true;
                    decision = PreTradeCheck.CheckRates(current, counters);
                    if (decision.IsAccepted && ApiKeyOf(actor) is not null) decision = PreTradeCheck.CheckKeyRates(keyOptions.Value.RateLimits, counters);
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException)
                {
                    logger.LogWarning(ex, "Rate counters unavailable; refusing order {ClientOrderId}", order.ClientOrderId);
                    refusal = Unavailable("rate counters in Redis cannot be reached");
                }
                catch (Exception ex) when (ex is RateCountersLostException or NpgsqlException)
                {
                    logger.LogWarning(ex, "Rate counters lost in Redis and not restored; refusing order {ClientOrderId}", order.ClientOrderId);
                    refusal = Unavailable("rate counters were lost in Redis and could not be rebuilt from Postgres");
                }
            }
        }

        var row = NewRow(order, hash, actor, now, referencePrice, decision, refusal);
        var decisionEvent = DecisionEvent(row);
        // The in-process paper broker's writes commit with the decision: one commit per accepted order instead of two.
        var submission = row.Decision == "accepted" && _paper is not null ? await _paper.PrepareWithDecisionAsync(BrokerRequest(order, row), ct) : null;
        if (submission is not null) Record(row, submission.State);
        bool inserted;
        try
        {
            var insert = InsertCommand(row);
            // A repeat of a decided clientOrderId inserts nothing, has nothing new to audit, and its paper statements do nothing.
            await writer.CommitAsync(new PgWork([insert, .. submission?.Commands ?? []])
            {
                AuditEvents = [decisionEvent, .. submission?.AuditEvents ?? []],
                AuditWhen = () => insert.RecordsAffected == 1,
            });
            inserted = insert.RecordsAffected == 1;
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Could not record the decision for {ClientOrderId}; nothing acknowledged", order.ClientOrderId);
            if (submission is not null) _paper!.CommitFailed(submission);
            await ReleaseAsync(order, actor, reserved, countedRate, now);
            return new OrderOutcome(OutcomeKind.Unavailable, null, "The decision could not be recorded durably; the order was not sent.");
        }

        if (!inserted)
        {
            // Another instance (or an earlier request) already decided this client order id.
            await ReleaseAsync(order, actor, reserved, countedRate, now);
            var existing = await FindAsync(order.ClientOrderId, ct);
            return existing is null
                ? new OrderOutcome(OutcomeKind.Unavailable, null, "The earlier decision for this clientOrderId could not be read.")
                : SameRequestOr409(new OrderOutcome(OutcomeKind.Decided, existing), hash);
        }

        if (row.Decision == "rejected")
        {
            await ReleaseAsync(order, actor, reserved, countedRate, now);
            autoHalt.OnRejected(intent.StrategyId, row.Reason, senderMayTradeStrategy);
            Count(row);
            return new OrderOutcome(OutcomeKind.Decided, row);
        }

        OrderOutcome outcome;
        if (submission is not null)
        {
            await _paper!.CommittedWithDecisionAsync(submission);
            risk.Acknowledged(order.ClientOrderId);
            outcome = new OrderOutcome(OutcomeKind.Decided, row);
        }
        else outcome = await SendToBrokerAsync(order, row, ct);
        Count(row);
        PortalMetrics.OrderDecisionSeconds.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        return outcome;
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

    private async Task<OrderOutcome> SendToBrokerAsync(ParsedOrder order, OrderRow row, CancellationToken ct)
    {
        try
        {
            var state = await broker.SubmitAsync(BrokerRequest(order, row), ct);
            risk.Acknowledged(order.ClientOrderId);
            Record(row, state);
            return new OrderOutcome(OutcomeKind.Decided, row);
        }
        catch (BrokerException ex)
        {
            logger.LogError(ex, "Broker {Broker} failed order {ClientOrderId}: {Code}", broker.Name, order.ClientOrderId, ex.Code);
            risk.Release(order.ClientOrderId);
            var refused = ex.Kind == BrokerErrorKind.Rejected;
            row.Status = refused ? OrderStatuses.BrokerRejected : OrderStatuses.SubmitFailed;
            row.Message = $"Broker {broker.Name}: {ex.Message}";
            try
            {
                var now = clock.GetUtcNow();
                await writer.CommitAsync(new PgWork(StatusCommand(row, now))
                {
                    AuditEvents = [AuditEventDraft.Create(now, "broker:" + broker.Name, refused ? "order.broker_rejected" : "order.submit_failed", "order:" + row.ClientOrderId,
                        new { orderId = row.Id, clientOrderId = row.ClientOrderId, code = ex.Code, kind = ex.Kind.ToString(), message = row.Message })],
                });
            }
            catch (Exception writeFailure)
            {
                // The row stays pending_submit; reconciliation against the broker settles it.
                logger.LogError(writeFailure, "Could not record the broker failure of {ClientOrderId}", order.ClientOrderId);
            }
            return new OrderOutcome(OutcomeKind.BrokerFailed, row, row.Message);
        }
    }

    /// <summary>Counts the order; if Redis lost the counters, they are rebuilt from Postgres first, then it is counted once.</summary>
    private async Task<OrderCounters> ReserveRateAsync(string strategyId, string? apiKey, string clientOrderId, DateTimeOffset now)
    {
        try
        {
            return await rates.ReserveAsync(strategyId, apiKey, clientOrderId, now);
        }
        catch (RateCountersLostException)
        {
            await rateRestorer.RestoreAsync();
            return await rates.ReserveAsync(strategyId, apiKey, clientOrderId, now);
        }
    }

    /// <summary>The API key an actor names ("apikey:&lt;id&gt;", as the orders table stores it), or null for Portal's own senders.</summary>
    public static string? ApiKeyOf(string actor) => actor.StartsWith(ApiKeyActorPrefix, StringComparison.Ordinal) ? actor : null;

    public const string ApiKeyActorPrefix = "apikey:";

    private async Task ReleaseAsync(ParsedOrder order, string actor, bool reserved, bool countedRate, DateTimeOffset reservedAt)
    {
        if (reserved) risk.Release(order.ClientOrderId);
        if (!countedRate) return;
        try
        {
            await rates.ReleaseAsync(order.Intent.StrategyId, ApiKeyOf(actor), order.ClientOrderId, reservedAt);
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
        PortalMetrics.OrdersTotal.WithLabels(row.Decision).Inc();
        if (row.Decision != "rejected") return;
        PortalMetrics.OrdersRejected.WithLabels(row.Reason ?? "unknown").Inc();
        if (row.Reason is not null && row.Reason.StartsWith("Max", StringComparison.Ordinal)) PortalMetrics.RiskBreaches.WithLabels(row.Reason).Inc();
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

    private static NpgsqlBatchCommand InsertCommand(OrderRow r)
    {
        var command = new NpgsqlBatchCommand("""
            insert into orders (id, client_order_id, request_hash, strategy_id, symbol, side, quantity, order_type, limit_price,
                time_in_force, decision, reason, limit_value, actual_value, message, reference_price, status, actor, created_at, updated_at,
                broker_order_id, filled_quantity, avg_fill_price)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19, $20, $21, $22)
            on conflict (client_order_id) do nothing
            """);
        foreach (var value in new object?[] { r.Id, r.ClientOrderId, r.RequestHash, r.StrategyId, r.Symbol, r.Side, r.Quantity, r.OrderType,
                     r.LimitPrice, r.TimeInForce, r.Decision, r.Reason, r.LimitValue, r.ActualValue, r.Message, r.ReferencePrice, r.Status, r.Actor, r.CreatedAt,
                     r.BrokerOrderId, r.FilledQuantity, r.AvgFillPrice })
            command.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
        return command;
    }

    private static NpgsqlBatchCommand StatusCommand(OrderRow r, DateTimeOffset now)
    {
        var command = new NpgsqlBatchCommand("update orders set status = $2, message = $3, updated_at = $4 where id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = r.Id });
        command.Parameters.Add(new NpgsqlParameter { Value = r.Status });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)r.Message ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        return command;
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
