using Microsoft.Extensions.Options;
using Portal.Domain.Audit;
using Portal.Domain.Broker;
using Portal.Domain.Orders;
using Portal.Features.Audit;
using Portal.Features.Orders;
using Portal.Infrastructure.Postgres;

namespace Portal.Infrastructure.Alpaca;

/// <summary>
/// The broker port over Alpaca.
/// <para>
/// Order states: every state Alpaca reports (submit reply, trade update, look-up) is recorded in
/// <c>orders</c> through the group committer before <see cref="OrderUpdated"/> is raised, and only
/// if it moves the order forward (more filled, or finished): the stream can deliver a fill before
/// the submit reply arrives, and a late or repeated message must never move an order backwards.
/// </para>
/// <para>
/// The risk view (<see cref="GetPortfolioAsync"/>): the last REST snapshot of account, positions
/// and open orders, plus every change heard of since (acknowledged submissions, trade updates).
/// A snapshot is applied only if nothing changed the view while it was being fetched, so it
/// always includes what the view already knew; an acknowledged order is therefore never counted
/// zero times. Look-ups by REST touch only <c>orders</c>; the next snapshot brings the view along.
/// The refresh loop is also the broker heartbeat: after repeated failures, or when the last
/// snapshot is too old, <see cref="GetPortfolioAsync"/> throws, so safe mode engages.
/// </para>
/// </summary>
public sealed class AlpacaBroker(
    AlpacaClient client, GroupCommitter writer, OrderStore orders, IOptions<AlpacaOptions> options, TimeProvider clock, ILogger<AlpacaBroker> logger)
    : BackgroundService, IBroker
{
    private const int RecordedCapacity = 10_000;
    private static readonly TimeSpan FailedRefreshRetry = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan SubmitFailedLookBack = TimeSpan.FromDays(1);
    private const string StorageUnavailable = "storage_unavailable";

    private readonly Lock _gate = new();
    private readonly AlpacaOptions _options = options.Value;

    // The risk view.
    private readonly Dictionary<string, BrokerOrderState> _open = new(StringComparer.Ordinal);
    private readonly Dictionary<string, BrokerPosition> _positions = new(StringComparer.Ordinal);
    private decimal _cash;
    private bool _haveSnapshot;
    private long _viewVersion;

    // What `orders` holds for each order (open ones always, finished ones for a while), and the
    // orders whose last write failed and must be read and recorded again.
    private readonly Dictionary<string, BrokerOrderState> _recorded = new(StringComparer.Ordinal);
    private readonly Queue<string> _finishedOrder = new();
    private readonly HashSet<string> _unrecorded = new(StringComparer.Ordinal);

    private int _consecutiveFailures;
    private DateTimeOffset _lastRefresh;
    private readonly SemaphoreSlim _refreshRequested = new(0, 1);
    private int _fullReconcileRequested = 1;

    public string Name => "alpaca";

    public bool JoinsDecisionTransaction => false;

    public bool UsesRealMoney => !AlpacaOptions.IsPaperOrLocal(_options.BaseUri);

    public event Action<BrokerOrderState>? OrderUpdated;

    public async Task<BrokerOrderState> SubmitAsync(BrokerOrderRequest request, CancellationToken ct)
    {
        var alpacaRequest = new AlpacaOrderRequest
        {
            Symbol = request.Symbol, Qty = request.Quantity, Side = OrderText.Format(request.Side), Type = OrderText.Format(request.Type),
            TimeInForce = OrderText.Format(request.TimeInForce), LimitPrice = request.LimitPrice, ClientOrderId = request.ClientOrderId,
        };
        // Once an order is on its way its fate must be learned and recorded, even if the caller stops waiting.
        var order = await client.SubmitOrderAsync(alpacaRequest, CancellationToken.None);
        return await RecordAsync(ToState(order), addToView: true, CancellationToken.None);
    }

    public async Task<BrokerOrderState?> GetOrderAsync(string clientOrderId, CancellationToken ct) =>
        await client.GetOrderByClientOrderIdAsync(clientOrderId, ct) is { } order ? await TryRecordAsync(ToState(order), ct) : null;

    public Task<BrokerPortfolio> GetPortfolioAsync(CancellationToken ct)
    {
        lock (_gate)
        {
            if (!_haveSnapshot)
                throw new BrokerException(BrokerErrorKind.Unavailable, "not_ready", "Portal has not read the Alpaca account yet.");
            var age = clock.GetUtcNow() - _lastRefresh;
            if (_consecutiveFailures >= _options.FailuresBeforeStale || age > _options.StaleAfter)
                throw new BrokerException(BrokerErrorKind.Unavailable, "stale",
                    $"Alpaca's account view is {age.TotalSeconds:0} s old ({_consecutiveFailures} failed refreshes in a row).");
            return Task.FromResult(new BrokerPortfolio(_cash, _positions.Values.ToList(), _open.Values.ToList(), _lastRefresh));
        }
    }

    public async Task<BrokerOrderState?> CancelOrderAsync(string clientOrderId, CancellationToken ct)
    {
        if (await client.GetOrderByClientOrderIdAsync(clientOrderId, ct) is not { } order) return null;
        if (ToState(order).IsOpen)
        {
            // False means it finished meanwhile (filled, say): the read below tells which way.
            await client.CancelOrderAsync(order.Id, ct);
            order = await client.GetOrderByClientOrderIdAsync(clientOrderId, ct) ?? order;
        }
        RequestRefresh();
        return await TryRecordAsync(ToState(order), ct);
    }

    /// <summary>Alpaca's cancel-all. Throws <see cref="BrokerBatchException"/> naming each order Alpaca could not cancel.</summary>
    public async Task<IReadOnlyList<BrokerOrderState>> CancelAllOrdersAsync(CancellationToken ct)
    {
        var items = await client.CancelAllOrdersAsync(ct);
        var cancelled = new List<BrokerOrderState>();
        var failures = new List<string>();
        foreach (var item in items)
        {
            var known = KnownOrder(item.Id);
            var label = $"order {item.Id}" + (known is null ? "" : $" ({known.ClientOrderId}, {known.Symbol})");
            if (!item.Succeeded)
            {
                failures.Add($"{label}: {item.Error}");
                continue;
            }
            if (ReadOrder(item, failures, label) is { } order) cancelled.Add(await TryRecordAsync(ToState(order), ct));
            // Without a body the cancel was still accepted: report the order as Portal last knew it, now cancelled.
            else if (known is not null) cancelled.Add(known with { Status = BrokerOrderStatus.Canceled });
            else cancelled.Add(new BrokerOrderState("", item.Id ?? "", "", OrderSide.Buy, 0m, 0m, null, BrokerOrderStatus.Canceled));
        }
        RequestRefresh();
        return failures.Count == 0 ? cancelled : throw new BrokerBatchException(cancelled, failures);
    }

    /// <summary>
    /// Alpaca's close-all with <c>cancel_orders=true</c>, then a short wait for the closing orders to
    /// fill. Throws <see cref="BrokerBatchException"/> naming each position Alpaca refused to close
    /// and each one still open when the wait ends (e.g. the market is closed and the order queues).
    /// </summary>
    public async Task<IReadOnlyList<BrokerOrderState>> CloseAllPositionsAsync(CancellationToken ct)
    {
        var items = await client.CloseAllPositionsAsync(ct);
        var failures = new List<string>();
        var closing = new List<(string Symbol, BrokerOrderState State)>();
        foreach (var item in items)
        {
            var symbol = item.Symbol ?? "?";
            if (!item.Succeeded) failures.Add($"{symbol}: {item.Error}");
            else if (ReadOrder(item, failures, symbol) is { } order) closing.Add((symbol, ToState(order)));
        }

        var deadline = clock.GetUtcNow() + _options.CloseFillWait;
        while (closing.Any(c => LatestOpen(c.State)) && clock.GetUtcNow() < deadline)
            await Task.Delay(TimeSpan.FromMilliseconds(50), clock, ct);

        var results = new List<BrokerOrderState>();
        AlpacaClock? marketClock = null;
        foreach (var (symbol, placed) in closing)
        {
            var state = Latest(placed);
            if (state.IsOpen && await client.GetOrderByClientOrderIdAsync(state.ClientOrderId, ct) is { } reread)
                state = await TryRecordAsync(ToState(reread), ct);
            results.Add(state);
            if (state.Status == BrokerOrderStatus.Filled) continue;
            // The fill may simply not have been heard yet: with no position left, the closing order did its work.
            if (state.IsOpen && await client.GetPositionAsync(symbol, ct) is null)
            {
                results[^1] = state with { Status = BrokerOrderStatus.Filled, FilledQuantity = state.Quantity };
                continue;
            }
            marketClock ??= await TryGetClockAsync(ct);
            var why = marketClock is { IsOpen: false } closed ? $"; the market is closed, the order waits for the open at {closed.NextOpen:u}" : "";
            failures.Add($"{symbol}: the closing order {state.BrokerOrderId} is {OrderText.Format(state.Status)} " +
                         $"({state.FilledQuantity} of {state.Quantity} filled) after {_options.CloseFillWait.TotalSeconds:0.#} s{why}");
        }
        RequestRefresh();
        return failures.Count == 0 ? results : throw new BrokerBatchException(results, failures);
    }

    /// <summary>A trade update from the stream: moves the risk view at once and records the order's state.</summary>
    public async Task OnTradeUpdateAsync(AlpacaTradeUpdate update, CancellationToken ct)
    {
        var state = ToState(update.Order);
        var isFill = update.Event is "fill" or "partial_fill" && update is { Qty: > 0m, Price: not null };
        lock (_gate)
        {
            if (state.IsOpen)
            {
                if (!_open.TryGetValue(state.ClientOrderId, out var seen) || state.FilledQuantity >= seen.FilledQuantity) _open[state.ClientOrderId] = state;
            }
            else _open.Remove(state.ClientOrderId);
            if (isFill) ApplyFill(state, update.Qty!.Value, update.Price!.Value, update.PositionQty);
            _viewVersion++;
        }
        await TryRecordAsync(state, ct);
        if (isFill) RequestRefresh();
    }

    /// <summary>After the stream (re)connects: everything that may have happened while nobody listened is read by REST.</summary>
    public void RequestFullReconcile()
    {
        Interlocked.Exchange(ref _fullReconcileRequested, 1);
        RequestRefresh();
    }

    public void RequestRefresh()
    {
        try { _refreshRequested.Release(); } catch (SemaphoreFullException) { /* one pending request is enough */ }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var full = Interlocked.Exchange(ref _fullReconcileRequested, 0) == 1;
                var wait = _options.SyncInterval;
                try
                {
                    await RefreshAsync(full, stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    if (full) Interlocked.Exchange(ref _fullReconcileRequested, 1);
                    int failures;
                    lock (_gate) failures = ++_consecutiveFailures;
                    logger.LogWarning("Alpaca account refresh failed ({Failures} in a row): {Error}", failures, Describe(ex));
                    wait = wait < FailedRefreshRetry ? wait : FailedRefreshRetry;
                }
                // A requested refresh (after a fill, a reconnect) comes sooner, but not closer than MinSyncGap to the last.
                await Task.Delay(_options.MinSyncGap, clock, stoppingToken);
                if (wait > _options.MinSyncGap) await _refreshRequested.WaitAsync(wait - _options.MinSyncGap, stoppingToken);
            }
        }
        catch (Exception) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: a request cut short by it is not a broker failure.
        }
    }

    private async Task RefreshAsync(bool full, CancellationToken ct)
    {
        long version;
        lock (_gate) version = _viewVersion;
        var account = client.GetAccountAsync(ct);
        var positions = client.GetPositionsAsync(ct);
        var openOrders = client.ListOpenOrdersAsync(ct);
        await Task.WhenAll(account, positions, openOrders);

        var open = (await openOrders).Select(ToState).ToList();
        var openIds = open.Select(o => o.ClientOrderId).ToHashSet(StringComparer.Ordinal);
        HashSet<string> candidates;
        lock (_gate)
        {
            _lastRefresh = clock.GetUtcNow();
            _consecutiveFailures = 0;
            if (version == _viewVersion)
            {
                _cash = account.Result.Cash;
                _positions.Clear();
                foreach (var p in positions.Result) _positions[p.Symbol] = new BrokerPosition(p.Symbol, p.Qty, p.AvgEntryPrice);
                _open.Clear();
                foreach (var o in open) _open[o.ClientOrderId] = o;
                _haveSnapshot = true;
            }
            else
            {
                // The view moved while this was fetched, and the snapshot may or may not hold that change (the
                // account, positions and orders are read at slightly different moments): it is not applied, and
                // another is fetched at once. Portal's order rate keeps such collisions rare; meanwhile the
                // trade updates keep the view current.
                RequestRefresh();
            }
            // Orders `orders` still shows as open that Alpaca no longer lists as open finished while nobody told us.
            candidates = _recorded.Values.Where(o => o.IsOpen).Select(o => o.ClientOrderId).Concat(_unrecorded).ToHashSet(StringComparer.Ordinal);
        }
        if (full) candidates.UnionWith(await OpenInDatabaseAsync(ct));
        candidates.ExceptWith(openIds);

        foreach (var state in open) await TryRecordAsync(state, ct);
        foreach (var clientOrderId in candidates)
        {
            if (await client.GetOrderByClientOrderIdAsync(clientOrderId, ct) is { } order) await TryRecordAsync(ToState(order), ct);
            else lock (_gate) _unrecorded.Remove(clientOrderId);
        }
    }

    /// <summary>Orders Portal sent that may still be working at Alpaca, or whose submission ended without a clear answer.</summary>
    private Task<List<string>> OpenInDatabaseAsync(CancellationToken ct) => orders.ToReconcileAsync(clock.GetUtcNow() - SubmitFailedLookBack, ct);

    /// <summary>
    /// Records what Alpaca reported, and returns it even if Postgres could not take it: the write is
    /// retried at the next refresh, and a halt, a read or the heartbeat must not fail because of it.
    /// </summary>
    private async Task<BrokerOrderState> TryRecordAsync(BrokerOrderState state, CancellationToken ct)
    {
        try
        {
            return await RecordAsync(state, addToView: false, ct);
        }
        catch (BrokerException ex) when (ex.Code == StorageUnavailable)
        {
            return state;
        }
    }

    /// <summary>
    /// Records a state Alpaca reported if it moves the order forward, then raises <see cref="OrderUpdated"/>;
    /// returns the latest state known. <paramref name="addToView"/>: an acknowledgement of our own
    /// submission, which enters the risk view at once.
    /// </summary>
    private async Task<BrokerOrderState> RecordAsync(BrokerOrderState state, bool addToView, CancellationToken ct)
    {
        Task committed;
        BrokerOrderState? previous;
        lock (_gate)
        {
            previous = _recorded.GetValueOrDefault(state.ClientOrderId);
            if (!MovesForward(previous, state))
            {
                _unrecorded.Remove(state.ClientOrderId);
                return previous!;
            }
            if (addToView)
            {
                if (state.IsOpen) _open[state.ClientOrderId] = state;
                else _open.Remove(state.ClientOrderId);
                _viewVersion++;
            }
            Remember(state);
            // Enqueued under the lock, so the writes happen in the order the states were accepted.
            var now = clock.GetUtcNow();
            var report = OrderStore.Reported(state, now);
            // The event goes with the row's move: every instance hears the stream, the first to record a change audits it.
            committed = writer.CommitAsync(new PgWork(report) { AuditEvents = [ReportedEvent(state, now)], AuditWhen = () => report.RecordsAffected > 0 });
        }
        try
        {
            await committed.WaitAsync(ct);
        }
        catch (Exception ex)
        {
            lock (_gate)
            {
                if (_recorded.GetValueOrDefault(state.ClientOrderId) == state)
                {
                    if (previous is null) _recorded.Remove(state.ClientOrderId);
                    else _recorded[state.ClientOrderId] = previous;
                }
                _unrecorded.Add(state.ClientOrderId);
            }
            logger.LogError(ex, "Could not record Alpaca's state of order {ClientOrderId}", state.ClientOrderId);
            throw new BrokerException(BrokerErrorKind.Unavailable, StorageUnavailable, "Portal could not record Alpaca's order state.", ex);
        }
        lock (_gate) _unrecorded.Remove(state.ClientOrderId);
        OrderUpdated?.Invoke(state);
        return state;
    }

    /// <summary>
    /// A state Alpaca reported, under the paper broker's event names. A fill carries the order's filled quantity and average
    /// price as Alpaca reported them: a look-up by REST can bring several executions at once.
    /// </summary>
    private AuditEventDraft ReportedEvent(BrokerOrderState state, DateTimeOffset now) => AuditEventDraft.Create(now, "broker:" + Name,
        state.Status switch
        {
            BrokerOrderStatus.New => "broker.order.acknowledged",
            BrokerOrderStatus.PartiallyFilled or BrokerOrderStatus.Filled => "broker.fill",
            BrokerOrderStatus.Canceled => "broker.order.canceled",
            BrokerOrderStatus.Expired => "broker.order.expired",
            _ => "broker.order.rejected",
        },
        "order:" + state.ClientOrderId, new
        {
            brokerOrderId = state.BrokerOrderId, clientOrderId = state.ClientOrderId, symbol = state.Symbol, side = OrderText.Format(state.Side),
            orderQuantity = AuditTrail.Text(state.Quantity), status = OrderText.Format(state.Status), filledQuantity = AuditTrail.Text(state.FilledQuantity),
            avgFillPrice = AuditTrail.Text(state.AvgFillPrice), rejectReason = state.RejectReason,
        });

    /// <summary>More filled, or finished: anything else is a late or repeated message.</summary>
    private static bool MovesForward(BrokerOrderState? before, BrokerOrderState after) =>
        before is null
        || (before.IsOpen && after.FilledQuantity >= before.FilledQuantity
            && (!after.IsOpen || after.FilledQuantity > before.FilledQuantity || after.Status != before.Status));

    private void Remember(BrokerOrderState state)
    {
        _recorded[state.ClientOrderId] = state;
        if (state.IsOpen) return;
        _finishedOrder.Enqueue(state.ClientOrderId);
        while (_finishedOrder.Count > RecordedCapacity)
        {
            var oldest = _finishedOrder.Dequeue();
            if (_recorded.TryGetValue(oldest, out var s) && !s.IsOpen) _recorded.Remove(oldest);
        }
    }

    /// <summary>A fill moves the position to Alpaca's own post-fill quantity and the cash by the execution's value.</summary>
    private void ApplyFill(BrokerOrderState order, decimal quantity, decimal price, decimal? positionAfter)
    {
        var signed = order.Side == OrderSide.Buy ? quantity : -quantity;
        var before = _positions.GetValueOrDefault(order.Symbol);
        var after = positionAfter ?? (before?.Quantity ?? 0m) + signed;
        // The average only matters as a fallback mark until the next snapshot brings Alpaca's own.
        var average = before is null || Math.Sign(before.Quantity) != Math.Sign(after) ? price
            : Math.Abs(after) > Math.Abs(before.Quantity) ? (before.AvgPrice * before.Quantity + price * signed) / after
            : before.AvgPrice;
        if (after == 0m) _positions.Remove(order.Symbol);
        else _positions[order.Symbol] = new BrokerPosition(order.Symbol, after, average);
        // A snapshot read just after the fill but applied before this message arrived already holds it:
        // the cash is then off by one execution until the refresh this fill requests.
        _cash -= signed * price;
    }

    private BrokerOrderState? KnownOrder(string? brokerOrderId)
    {
        lock (_gate) return _recorded.Values.Concat(_open.Values).FirstOrDefault(o => o.BrokerOrderId == brokerOrderId);
    }

    private BrokerOrderState Latest(BrokerOrderState placed)
    {
        lock (_gate) return _recorded.GetValueOrDefault(placed.ClientOrderId) is { } known && !MovesForward(known, placed) ? known : placed;
    }

    private bool LatestOpen(BrokerOrderState placed) => Latest(placed).IsOpen;

    private AlpacaOrder? ReadOrder(AlpacaBatchItem item, List<string> failures, string label)
    {
        try
        {
            return item.Order;
        }
        catch (System.Text.Json.JsonException)
        {
            failures.Add($"{label}: Alpaca's reply for it could not be read");
            return null;
        }
    }

    private async Task<AlpacaClock?> TryGetClockAsync(CancellationToken ct)
    {
        try
        {
            return await client.GetClockAsync(ct);
        }
        catch (BrokerException)
        {
            return null;
        }
    }

    public static BrokerOrderState ToState(AlpacaOrder order)
    {
        var quantity = order.Qty ?? order.FilledQty;
        var status = order.Status switch
        {
            "filled" => BrokerOrderStatus.Filled,
            "canceled" => BrokerOrderStatus.Canceled,
            // A replaced order no longer works; Portal never replaces orders, so its successor is not ours.
            "replaced" => BrokerOrderStatus.Canceled,
            "expired" => BrokerOrderStatus.Expired,
            "rejected" => BrokerOrderStatus.Rejected,
            // Everything else (new, accepted, pending_*, done_for_day, held, calculated, stopped, suspended, ...) may
            // still fill: it counts as working exposure.
            _ => order.FilledQty > 0m ? BrokerOrderStatus.PartiallyFilled : BrokerOrderStatus.New,
        };
        return new BrokerOrderState(order.ClientOrderId, order.Id, order.Symbol, order.Side == "sell" ? OrderSide.Sell : OrderSide.Buy,
            quantity, order.FilledQty, order.FilledAvgPrice, status, status == BrokerOrderStatus.Rejected ? "Alpaca rejected the order." : null);
    }

    private static string Describe(Exception ex) => ex is BrokerException b ? $"{b.Code}: {b.Message}" : $"{ex.GetType().Name}: {ex.Message}";
}
