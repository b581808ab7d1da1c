using System.Globalization;
using Npgsql;
using Portal.Domain.Audit;
using Portal.Domain.Broker;
using Portal.Domain.Orders;
using Portal.Domain.Risk;
using Portal.Features.Audit;
using Portal.Features.Orders;
using Portal.Features.Risk;
using Portal.Infrastructure.Postgres;

namespace Portal.Features.Broker;

public sealed class PaperBrokerOptions
{
    /// <summary>Cash of a new paper account.</summary>
    public decimal StartingCash { get; set; } = 100_000m;
    /// <summary>An accepted order still pending_submit this long after its decision, with no paper order, was never sent (see <see cref="UnsentOrderResolver"/>).</summary>
    public TimeSpan UnsentOrderTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// The built-in broker: fills market orders at the last valid price moved against the side by the
/// slippage model, rests limit orders until the price crosses them. Its state lives in memory and
/// every change is committed to Postgres (together with the order's status in <c>orders</c>)
/// before the caller hears of it, with its audit events (acknowledgement, fills, cancels) in the same
/// transaction. Submission is idempotent on the client order id.
/// </summary>
public sealed class PaperBroker(GroupCommitter writer, NpgsqlDataSource db, PriceBook prices, TimeProvider clock, ILogger<PaperBroker> logger)
    : IBroker
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SlippageModel _slippage = new();
    private const int RecentCapacity = 50_000;
    private readonly Dictionary<string, PaperOrder> _open = new(StringComparer.Ordinal);
    // Finished orders stay answerable (idempotent submit, status look-ups) for a while without
    // growing memory forever; older ones are read from Postgres.
    private readonly Dictionary<string, BrokerOrderState> _recent = new(StringComparer.Ordinal);
    private readonly Queue<string> _recentOrder = new();
    private readonly Dictionary<string, BrokerPosition> _positions = new(StringComparer.Ordinal);
    private decimal _cash;
    private volatile bool _loaded;
    // Counts loads, so a submission prepared before a reload is not applied on top of it.
    private long _generation;

    public string Name => "paper";

    public bool IsLoaded => _loaded;

    /// <summary>
    /// Fault injection for drills and tests: while set, the broker answers nothing, as if the
    /// network to it were cut. Orders must then be refused through safe mode.
    /// </summary>
    public bool Unreachable { get; set; }

    public event Action<BrokerOrderState>? OrderUpdated;

    public async Task LoadAsync(decimal startingCash, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            await using (var ensure = new NpgsqlCommand("insert into paper_account (id, cash, updated_at) values (1, $1, $2) on conflict (id) do nothing", connection))
            {
                ensure.Parameters.AddWithValue(startingCash);
                ensure.Parameters.AddWithValue(clock.GetUtcNow());
                await ensure.ExecuteNonQueryAsync(ct);
            }
            await using (var cash = new NpgsqlCommand("select cash from paper_account where id = 1", connection))
                _cash = (decimal)(await cash.ExecuteScalarAsync(ct))!;
            _positions.Clear();
            await using (var positions = new NpgsqlCommand("select symbol, quantity, avg_price from paper_positions where quantity <> 0", connection))
            await using (var reader = await positions.ExecuteReaderAsync(ct))
                while (await reader.ReadAsync(ct))
                    _positions[reader.GetString(0)] = new BrokerPosition(reader.GetString(0), reader.GetDecimal(1), reader.GetDecimal(2));
            _open.Clear();
            _recent.Clear();
            _recentOrder.Clear();
            await using (var orders = new NpgsqlCommand(
                $"(select {OrderColumns} from paper_orders where status in ('new', 'partially_filled')) union all " +
                $"(select {OrderColumns} from paper_orders where status not in ('new', 'partially_filled') order by created_at desc limit {RecentCapacity})",
                connection))
            await using (var reader = await orders.ExecuteReaderAsync(ct))
                while (await reader.ReadAsync(ct)) Track(ReadOrder(reader));
            _generation++;
            _loaded = true;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<BrokerOrderState> SubmitAsync(BrokerOrderRequest request, CancellationToken ct)
    {
        PaperSubmission submission;
        Task committed;
        await _gate.WaitAsync(ct);
        try
        {
            EnsureLoaded();
            if (Known(request.ClientOrderId) is { } existing) return existing;
            submission = Prepare(request, decisionId: null);
            Apply(submission);
            // Enqueued under the lock, so commits happen in the order the state changed.
            committed = writer.CommitAsync(new PgWork([.. submission.Commands, OrderStatusSql.Update(submission.State, clock.GetUtcNow())])
            {
                AuditEvents = submission.AuditEvents,
            });
        }
        finally
        {
            _gate.Release();
        }
        await AwaitCommitAsync(committed);
        OrderUpdated?.Invoke(submission.State);
        return submission.State;
    }

    /// <summary>
    /// Prepares a new order's acknowledgement (and immediate fill) to commit in the transaction that records its decision,
    /// so an accepted order costs one commit, not two. Its statements only take effect if that transaction's
    /// <c>orders</c> row with id <see cref="BrokerOrderRequest.OrderId"/> exists, i.e. if this request's decision was the
    /// one recorded; memory changes only in <see cref="CommittedWithDecisionAsync"/>, once that is known. Null when the
    /// order must take the ordinary path (broker unreachable or not loaded: <see cref="SubmitAsync"/> says why; or the
    /// client order id is known here already).
    /// </summary>
    public async Task<PaperSubmission?> PrepareWithDecisionAsync(BrokerOrderRequest request, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            return Unreachable || !_loaded || Known(request.ClientOrderId) is not null ? null : Prepare(request, request.OrderId);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The decision and <paramref name="submission"/> committed (its row was inserted): memory catches up.</summary>
    public async Task CommittedWithDecisionAsync(PaperSubmission submission)
    {
        await _gate.WaitAsync();
        try
        {
            // A reload since the submission was prepared may or may not have read its rows: read everything again.
            if (submission.Generation != _generation) _loaded = false;
            else Apply(submission);
        }
        finally
        {
            _gate.Release();
        }
        OrderUpdated?.Invoke(submission.State);
    }

    /// <summary>The transaction carrying <paramref name="submission"/> failed, perhaps after it committed: memory cannot be trusted.</summary>
    public void CommitFailed(PaperSubmission submission)
    {
        logger.LogError("The decision carrying paper order {ClientOrderId} could not be committed; reloading from Postgres", submission.State.ClientOrderId);
        _loaded = false;
    }

    public async Task<BrokerOrderState?> GetOrderAsync(string clientOrderId, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            EnsureLoaded();
            if (Known(clientOrderId) is { } known) return known;
        }
        finally
        {
            _gate.Release();
        }
        await using var command = db.CreateCommand($"select {OrderColumns} from paper_orders where client_order_id = $1");
        command.Parameters.AddWithValue(clientOrderId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadOrder(reader).State : null;
    }

    public async Task<BrokerPortfolio> GetPortfolioAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            EnsureLoaded();
            return new BrokerPortfolio(_cash, _positions.Values.ToList(),
                _open.Values.Select(o => o.State).ToList(), clock.GetUtcNow());
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<BrokerOrderState?> CancelOrderAsync(string clientOrderId, CancellationToken ct) =>
        (await CancelWhereAsync(o => o.ClientOrderId == clientOrderId, ct)).SingleOrDefault() ?? await GetOrderAsync(clientOrderId, ct);

    public Task<IReadOnlyList<BrokerOrderState>> CancelAllOrdersAsync(CancellationToken ct) => CancelWhereAsync(_ => true, ct);

    private async Task<IReadOnlyList<BrokerOrderState>> CancelWhereAsync(Func<PaperOrder, bool> which, CancellationToken ct)
    {
        var changed = new List<BrokerOrderState>();
        Task committed;
        await _gate.WaitAsync(ct);
        try
        {
            EnsureLoaded();
            var work = new List<NpgsqlBatchCommand>();
            var audit = new List<AuditEventDraft>();
            foreach (var order in _open.Values.Where(which).ToList())
            {
                order.Status = BrokerOrderStatus.Canceled;
                Track(order);
                work.Add(UpdateOrder(order));
                work.Add(OrderStatusSql.Update(order.State, clock.GetUtcNow()));
                audit.Add(Event("broker.order.canceled", order, new
                {
                    brokerOrderId = order.BrokerOrderId, clientOrderId = order.ClientOrderId,
                    filledQuantity = AuditTrail.Text(order.FilledQuantity), canceledQuantity = AuditTrail.Text(order.Quantity - order.FilledQuantity),
                }));
                changed.Add(order.State);
            }
            committed = work.Count == 0 ? Task.CompletedTask : writer.CommitAsync(new PgWork([.. work]) { AuditEvents = audit });
        }
        finally
        {
            _gate.Release();
        }
        await AwaitCommitAsync(committed);
        foreach (var state in changed) OrderUpdated?.Invoke(state);
        return changed;
    }

    /// <summary>Closes every position with a market order at the current price (cancelling open orders first).</summary>
    public async Task<IReadOnlyList<BrokerOrderState>> CloseAllPositionsAsync(CancellationToken ct)
    {
        await CancelAllOrdersAsync(ct);
        var closing = new List<BrokerOrderState>();
        List<BrokerPosition> positions;
        await _gate.WaitAsync(ct);
        try
        {
            positions = _positions.Values.Where(p => p.Quantity != 0m).ToList();
        }
        finally
        {
            _gate.Release();
        }
        foreach (var position in positions)
        {
            var request = new BrokerOrderRequest(Guid.CreateVersion7(clock.GetUtcNow()), "close-" + Guid.NewGuid().ToString("N")[..20], "flatten",
                position.Symbol, position.Quantity > 0 ? OrderSide.Sell : OrderSide.Buy, Math.Abs(position.Quantity),
                OrderType.Market, null, TimeInForce.Day);
            closing.Add(await SubmitAsync(request, ct));
        }
        return closing;
    }

    /// <summary>A new valid price may fill resting limit orders of its symbol.</summary>
    public async Task OnPriceAsync(PriceMark mark, CancellationToken ct)
    {
        var changed = new List<BrokerOrderState>();
        Task committed;
        await _gate.WaitAsync(ct);
        try
        {
            if (!_loaded) return;
            var work = new List<NpgsqlBatchCommand>();
            var audit = new List<AuditEventDraft>();
            foreach (var order in _open.Values.Where(o => o.Symbol == mark.Symbol && IsMarketable(o, mark.Price)).ToList())
            {
                Apply(Fill(order, mark, decisionId: null, work, audit));
                Track(order);
                work.Add(UpdateOrder(order));
                work.Add(OrderStatusSql.Update(order.State, clock.GetUtcNow()));
                changed.Add(order.State);
            }
            committed = work.Count == 0 ? Task.CompletedTask : writer.CommitAsync(new PgWork([.. work]) { AuditEvents = audit });
        }
        finally
        {
            _gate.Release();
        }
        await AwaitCommitAsync(committed);
        foreach (var state in changed) OrderUpdated?.Invoke(state);
    }

    /// <summary>What a new order does, as statements and audit events; memory is left alone. The caller holds the gate.</summary>
    private PaperSubmission Prepare(BrokerOrderRequest request, Guid? decisionId)
    {
        var order = new PaperOrder(Guid.CreateVersion7(clock.GetUtcNow()), request.ClientOrderId, request.Symbol, request.Side,
            request.Quantity, request.Type, request.LimitPrice, request.TimeInForce);
        var work = new List<NpgsqlBatchCommand>();
        var audit = new List<AuditEventDraft>();
        FillResult? fill = null;
        if (prices.Get(request.Symbol) is not { } mark)
        {
            order.Status = BrokerOrderStatus.Rejected;
            order.RejectReason = "no market price for the symbol";
        }
        else if (IsMarketable(order, mark.Price)) fill = Fill(order, mark, decisionId, work, audit);
        else if (order.TimeInForce is TimeInForce.Ioc or TimeInForce.Fok) order.Status = BrokerOrderStatus.Canceled;
        // Inserted as it stands after an immediate fill: one statement instead of an insert and an update.
        work.Insert(0, InsertOrder(order, decisionId));
        audit.Insert(0, Event("broker.order.acknowledged", order, new
        {
            brokerOrderId = order.BrokerOrderId, clientOrderId = order.ClientOrderId, symbol = order.Symbol, side = OrderText.Format(order.Side),
            quantity = AuditTrail.Text(order.Quantity), orderType = OrderText.Format(order.Type), limitPrice = AuditTrail.Text(order.LimitPrice),
            timeInForce = OrderText.Format(order.TimeInForce), status = OrderText.Format(order.Status), rejectReason = order.RejectReason,
        }));
        return new PaperSubmission(order, fill, work, audit, _generation);
    }

    private void Apply(PaperSubmission submission)
    {
        Track(submission.Order);
        if (submission.Fill is { } fill) Apply(fill);
    }

    private const string OrderColumns =
        "broker_order_id, client_order_id, symbol, side, quantity, order_type, limit_price, time_in_force, status, filled_quantity, avg_fill_price";

    private static PaperOrder ReadOrder(NpgsqlDataReader reader) => new(
        reader.GetGuid(0), reader.GetString(1), reader.GetString(2), OrderText.ParseSide(reader.GetString(3)), reader.GetDecimal(4),
        OrderText.ParseType(reader.GetString(5)), reader.IsDBNull(6) ? null : reader.GetDecimal(6), OrderText.ParseTimeInForce(reader.GetString(7)))
    {
        Status = OrderText.ParseBrokerStatus(reader.GetString(8)),
        FilledQuantity = reader.GetDecimal(9),
        AvgFillPrice = reader.IsDBNull(10) ? null : reader.GetDecimal(10),
    };

    private BrokerOrderState? Known(string clientOrderId) =>
        _open.TryGetValue(clientOrderId, out var open) ? open.State : _recent.GetValueOrDefault(clientOrderId);

    /// <summary>Files the order as open or recent after any change; the caller holds the gate.</summary>
    private void Track(PaperOrder order)
    {
        if (order.State.IsOpen)
        {
            _open[order.ClientOrderId] = order;
            return;
        }
        _open.Remove(order.ClientOrderId);
        if (_recent.TryAdd(order.ClientOrderId, order.State)) _recentOrder.Enqueue(order.ClientOrderId);
        else _recent[order.ClientOrderId] = order.State;
        while (_recentOrder.Count > RecentCapacity) _recent.Remove(_recentOrder.Dequeue());
    }

    private static bool IsMarketable(PaperOrder order, decimal price) => order.Type == OrderType.Market
        || (order.Side == OrderSide.Buy ? price <= order.LimitPrice : price >= order.LimitPrice);

    /// <summary>One fill: a change to the account and a position, applied to memory by <see cref="Apply(FillResult)"/>.</summary>
    internal readonly record struct FillResult(string Symbol, decimal Signed, decimal Price);

    /// <summary>
    /// Fills the rest of <paramref name="order"/> and writes the statements for it. With a <paramref name="decisionId"/>, every
    /// statement is guarded on that decision's row, so none takes effect if the decision's insert found its client order
    /// id already recorded.
    /// </summary>
    private FillResult Fill(PaperOrder order, PriceMark mark, Guid? decisionId, List<NpgsqlBatchCommand> work, List<AuditEventDraft> audit)
    {
        var quantity = order.Quantity - order.FilledQuantity;
        var price = _slippage.FillPrice(order.Side, mark.Price, quantity, mark.Volatility);
        // A limit order never fills worse than its limit.
        if (order.LimitPrice is { } limit) price = order.Side == OrderSide.Buy ? Math.Min(price, limit) : Math.Max(price, limit);
        price = Math.Round(price, 4, MidpointRounding.ToEven);
        var signed = order.Side == OrderSide.Buy ? quantity : -quantity;

        order.AvgFillPrice = ((order.AvgFillPrice ?? 0m) * order.FilledQuantity + price * quantity) / (order.FilledQuantity + quantity);
        order.FilledQuantity += quantity;
        order.Status = BrokerOrderStatus.Filled;

        var now = clock.GetUtcNow();
        work.Add(Guarded("insert into paper_fills (broker_order_id, symbol, side, quantity, price, filled_at) select $1, $2, $3, $4, $5, $6 where {0}",
            decisionId, order.BrokerOrderId, order.Symbol, OrderText.Format(order.Side), quantity, price, now));
        // Written as changes to what the database holds, not as this instance's view of the result: another instance's
        // paper broker may have filled orders of its own on the same account and symbol in between. The account row is
        // locked before any position, in every transaction, so two instances' batches wait for each other instead of
        // deadlocking (each deadlock stalls both for PostgreSQL's deadlock_timeout, a second).
        work.Add(Guarded("update paper_account set cash = cash - $1, updated_at = $2 where id = 1 and {0}", decisionId, signed * price, now));
        work.Add(Guarded("""
            insert into paper_positions as p (symbol, quantity, avg_price, realized_pnl, updated_at) select $1, $2, $3, 0, $4 where {0}
            on conflict (symbol) do update set
                quantity = p.quantity + $2,
                avg_price = case
                    when p.quantity + $2 = 0 then 0
                    when p.quantity = 0 or sign(p.quantity) = sign($2) then (p.avg_price * p.quantity + $3 * $2) / (p.quantity + $2)
                    when abs($2) > abs(p.quantity) then $3
                    else p.avg_price end,
                realized_pnl = p.realized_pnl + case when p.quantity <> 0 and sign(p.quantity) <> sign($2)
                    then least(abs($2), abs(p.quantity)) * ($3 - p.avg_price) * sign(p.quantity) else 0 end,
                updated_at = $4
            """, decisionId, order.Symbol, signed, price, now));
        // Memory may not hold every committed fill yet (see PrepareWithDecisionAsync); the quantity = 0 test keeps this right.
        var before = _positions.TryGetValue(order.Symbol, out var p) ? p.Quantity : 0m;
        if (before + signed == 0m) work.Add(Command("delete from paper_positions where symbol = $1 and quantity = 0", order.Symbol));
        audit.Add(Event("broker.fill", order, new
        {
            brokerOrderId = order.BrokerOrderId, clientOrderId = order.ClientOrderId, symbol = order.Symbol, side = OrderText.Format(order.Side),
            quantity = AuditTrail.Text(quantity), price = AuditTrail.Text(price), filledQuantity = AuditTrail.Text(order.FilledQuantity),
            avgFillPrice = AuditTrail.Text(order.AvgFillPrice), status = OrderText.Format(order.Status),
        }));
        return new FillResult(order.Symbol, signed, price);
    }

    private void Apply(FillResult fill)
    {
        _cash -= fill.Signed * fill.Price;
        var before = _positions.TryGetValue(fill.Symbol, out var p) ? p : new BrokerPosition(fill.Symbol, 0m, 0m);
        var after = before.Quantity + fill.Signed;
        var avg = before.Quantity == 0m || Math.Sign(before.Quantity) == Math.Sign(fill.Signed)
            ? after == 0m ? 0m : (before.AvgPrice * before.Quantity + fill.Price * fill.Signed) / after
            : Math.Abs(fill.Signed) > Math.Abs(before.Quantity) ? fill.Price : before.AvgPrice;
        if (after == 0m) _positions.Remove(fill.Symbol);
        else _positions[fill.Symbol] = new BrokerPosition(fill.Symbol, after, avg);
    }

    private AuditEventDraft Event<T>(string type, PaperOrder order, T payload) =>
        AuditEventDraft.Create(clock.GetUtcNow(), "broker:" + Name, type, "order:" + order.ClientOrderId, payload);

    private NpgsqlBatchCommand InsertOrder(PaperOrder order, Guid? decisionId) => Guarded("""
        insert into paper_orders (broker_order_id, client_order_id, symbol, side, quantity, order_type, limit_price, time_in_force,
            status, filled_quantity, avg_fill_price, created_at, updated_at)
        select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12 where {0}
        """, decisionId, order.BrokerOrderId, order.ClientOrderId, order.Symbol, OrderText.Format(order.Side), order.Quantity,
        OrderText.Format(order.Type), (object?)order.LimitPrice ?? DBNull.Value, OrderText.Format(order.TimeInForce),
        OrderText.Format(order.Status), order.FilledQuantity, (object?)order.AvgFillPrice ?? DBNull.Value, clock.GetUtcNow());

    private NpgsqlBatchCommand UpdateOrder(PaperOrder order) => Command(
        "update paper_orders set status = $2, filled_quantity = $3, avg_fill_price = $4, updated_at = $5 where broker_order_id = $1",
        order.BrokerOrderId, OrderText.Format(order.Status), order.FilledQuantity, (object?)order.AvgFillPrice ?? DBNull.Value, clock.GetUtcNow());

    /// <summary>
    /// <paramref name="sql"/> with its <c>{0}</c> replaced by a test that the decision's row exists (the row is inserted
    /// earlier in the same transaction), or by <c>true</c> without a decision.
    /// </summary>
    private static NpgsqlBatchCommand Guarded(string sql, Guid? decisionId, params object[] values) => decisionId is { } id
        ? Command(string.Format(CultureInfo.InvariantCulture, sql, $"exists (select 1 from orders where id = ${values.Length + 1})"), [.. values, id])
        : Command(string.Format(CultureInfo.InvariantCulture, sql, "true"), values);

    private static NpgsqlBatchCommand Command(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value });
        return command;
    }

    private void EnsureLoaded()
    {
        if (Unreachable) throw new BrokerException(BrokerErrorKind.Unavailable, "unreachable", "The paper broker is unreachable (fault injection).");
        if (!_loaded) throw new BrokerException(BrokerErrorKind.Unavailable, "not_ready", "The paper broker has not loaded its state yet.");
    }

    private async Task AwaitCommitAsync(Task committed)
    {
        try
        {
            await committed;
        }
        catch (Exception ex)
        {
            // Memory is ahead of the database now; reload before anything else is trusted.
            logger.LogError(ex, "Paper broker state could not be committed; reloading from Postgres");
            _loaded = false;
            throw new BrokerException(BrokerErrorKind.Unavailable, "storage_unavailable", "The paper broker could not record the change.", ex);
        }
    }

    /// <summary>A new order prepared by <see cref="PrepareWithDecisionAsync"/>: what to commit with its decision, and its state after.</summary>
    public sealed class PaperSubmission
    {
        internal PaperSubmission(PaperOrder order, FillResult? fill, IReadOnlyList<NpgsqlBatchCommand> commands, IReadOnlyList<AuditEventDraft> auditEvents, long generation)
        {
            Order = order;
            Fill = fill;
            Commands = commands;
            AuditEvents = auditEvents;
            Generation = generation;
            State = order.State;
        }

        internal PaperOrder Order { get; }
        internal FillResult? Fill { get; }
        internal long Generation { get; }
        public IReadOnlyList<NpgsqlBatchCommand> Commands { get; }
        public IReadOnlyList<AuditEventDraft> AuditEvents { get; }
        public BrokerOrderState State { get; }
    }

    internal sealed class PaperOrder(
        Guid brokerOrderId, string clientOrderId, string symbol, OrderSide side, decimal quantity,
        OrderType type, decimal? limitPrice, TimeInForce timeInForce)
    {
        public Guid BrokerOrderId { get; } = brokerOrderId;
        public string ClientOrderId { get; } = clientOrderId;
        public string Symbol { get; } = symbol;
        public OrderSide Side { get; } = side;
        public decimal Quantity { get; } = quantity;
        public OrderType Type { get; } = type;
        public decimal? LimitPrice { get; } = limitPrice;
        public TimeInForce TimeInForce { get; } = timeInForce;
        public BrokerOrderStatus Status { get; set; } = BrokerOrderStatus.New;
        public decimal FilledQuantity { get; set; }
        public decimal? AvgFillPrice { get; set; }
        public string? RejectReason { get; set; }

        public BrokerOrderState State => new(ClientOrderId, BrokerOrderId.ToString(), Symbol, Side, Quantity, FilledQuantity, AvgFillPrice, Status, RejectReason);
    }
}
