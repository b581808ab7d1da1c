using Npgsql;
using Portal.Domain.Audit;
using Portal.Domain.Broker;
using Portal.Domain.Orders;
using Portal.Domain.Risk;
using Portal.Features.Audit;
using Portal.Features.Orders;
using Portal.Features.Risk;
using Portal.Infrastructure;
using Portal.Infrastructure.Postgres;

namespace Portal.Features.Broker;

public sealed class PaperBrokerOptions
{
    /// <summary>Cash of a new paper account.</summary>
    public decimal StartingCash { get; set; } = 100_000m;
    /// <summary>An accepted order still pending_submit this long after its decision, with no paper order, was never sent (see <see cref="UnsentOrderResolver"/>).</summary>
    public TimeSpan UnsentOrderTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>A broker whose changes can commit in the transaction that records an order's decision, under the account lock.</summary>
public interface IDecisionBroker
{
    /// <summary>
    /// The new accepted order at the broker, decided against <paramref name="ledger"/> (which follows the change): its
    /// statements and audit events are added to <paramref name="work"/> and <paramref name="audit"/>. Null when the broker
    /// cannot take it now; the order then takes the ordinary path (<see cref="IBroker.SubmitAsync"/>) after the decision.
    /// </summary>
    BrokerOrderState? SubmitInDecision(BrokerOrderRequest request, AccountLedger ledger, List<NpgsqlBatchCommand> work, List<AuditEventDraft> audit);

    /// <summary>The decision carrying a submission from <see cref="SubmitInDecision"/> committed: <see cref="IBroker.OrderUpdated"/> may say so.</summary>
    void Committed(BrokerOrderState state);
}

/// <summary>
/// The built-in broker: fills market orders at the last valid price moved against the side by the slippage model, rests
/// limit orders until the price crosses them. It keeps nothing in memory: its cash, positions and orders are rows in
/// Postgres, and every change is a decision unit of the group committer, decided under the account lock against those
/// rows (see <see cref="AccountAuthority"/>) and committed with the order's status in <c>orders</c> and its audit events
/// (acknowledgement, fills, cancels). So every instance sees one paper book: a cancel-all or flatten on any instance
/// reaches every order and position, and a failed commit leaves nothing to reload. Submission is idempotent on the
/// client order id.
/// </summary>
public sealed class PaperBroker(
    GroupCommitter writer, AccountAuthority authority, NpgsqlDataSource db, PriceBook prices, [FromKeyedServices(ConnectionCut.Broker)] ConnectionCut network,
    TimeProvider clock, ILogger<PaperBroker> logger)
    : IBroker, IDecisionBroker
{
    private readonly SlippageModel _slippage = new();
    private volatile bool _accountReady;

    public string Name => "paper";

    public bool JoinsDecisionTransaction => true;

    /// <summary>The paper account's row exists; until then nothing can be decided against it.</summary>
    public bool IsLoaded => _accountReady;

    /// <summary>
    /// The paper broker lives in this process and has no connection of its own, so a cut of the broker connection (the
    /// network-loss drill, <see cref="ConnectionCut"/>) makes it answer nothing, as a broker beyond a lost network would.
    /// Orders must then be refused through safe mode.
    /// </summary>
    public bool Unreachable => network.IsCut;

    public bool UsesRealMoney => false;

    public event Action<BrokerOrderState>? OrderUpdated;

    /// <summary>Creates the paper account with <paramref name="startingCash"/> unless it exists.</summary>
    public async Task EnsureAccountAsync(decimal startingCash, CancellationToken ct)
    {
        await using var ensure = db.CreateCommand("insert into paper_account (id, cash, updated_at) values (1, $1, $2) on conflict (id) do nothing");
        ensure.Parameters.AddWithValue(startingCash);
        ensure.Parameters.AddWithValue(clock.GetUtcNow());
        await ensure.ExecuteNonQueryAsync(ct);
        _accountReady = true;
    }

    public BrokerOrderState? SubmitInDecision(BrokerOrderRequest request, AccountLedger ledger, List<NpgsqlBatchCommand> work, List<AuditEventDraft> audit) =>
        Unreachable || ledger.PaperOrder(request.ClientOrderId) is not null ? null : Submit(request, ledger, counted: true, work, audit);

    public void Committed(BrokerOrderState state) => OrderUpdated?.Invoke(state);

    public async Task<BrokerOrderState> SubmitAsync(BrokerOrderRequest request, CancellationToken ct)
    {
        EnsureReachable();
        BrokerOrderState? state = null;
        var changed = false;
        await CommitAsync(authority.Unit(new AccountReads([request.ClientOrderId]), ledger =>
        {
            if (ledger.PaperOrder(request.ClientOrderId) is { } existing)
            {
                (state, changed) = (existing.State, false);
                return UnitPlan.Nothing;
            }
            var work = new List<NpgsqlBatchCommand>();
            var audit = new List<AuditEventDraft>();
            // An order with a decision row counts as working in the ledger until it fills or ends.
            state = Submit(request, ledger, counted: ledger.IsRecorded(request.ClientOrderId), work, audit);
            work.Add(OrderStore.Reported(state, clock.GetUtcNow()));
            changed = true;
            return new UnitPlan(work, audit);
        }));
        if (changed) OrderUpdated?.Invoke(state!);
        return state!;
    }

    public async Task<BrokerOrderState?> GetOrderAsync(string clientOrderId, CancellationToken ct)
    {
        EnsureReachable();
        await using var command = db.CreateCommand($"select {OrderColumns} from paper_orders where client_order_id = $1");
        command.Parameters.AddWithValue(clientOrderId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadOrder(reader).State : null;
    }

    public async Task<BrokerPortfolio> GetPortfolioAsync(CancellationToken ct)
    {
        EnsureReachable();
        var asOf = clock.GetUtcNow();
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("select cash from paper_account where id = 1"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("select symbol, quantity, avg_price from paper_positions where quantity <> 0"));
        batch.BatchCommands.Add(OpenOrders());
        await using var reader = await batch.ExecuteReaderAsync(ct);
        var cash = await reader.ReadAsync(ct) ? reader.GetDecimal(0) : 0m;
        await reader.NextResultAsync(ct);
        var positions = new List<BrokerPosition>();
        while (await reader.ReadAsync(ct)) positions.Add(new BrokerPosition(reader.GetString(0), reader.GetDecimal(1), reader.GetDecimal(2)));
        await reader.NextResultAsync(ct);
        var open = new List<BrokerOrderState>();
        while (await reader.ReadAsync(ct)) open.Add(ReadOrder(reader).State);
        return new BrokerPortfolio(cash, positions, open, asOf);
    }

    public async Task<BrokerOrderState?> CancelOrderAsync(string clientOrderId, CancellationToken ct) =>
        (await CancelWhereAsync(o => o.ClientOrderId == clientOrderId, ct)).SingleOrDefault() ?? await GetOrderAsync(clientOrderId, ct);

    public Task<IReadOnlyList<BrokerOrderState>> CancelAllOrdersAsync(CancellationToken ct) => CancelWhereAsync(_ => true, ct);

    /// <summary>Cancels the open orders <paramref name="which"/> selects, as Postgres holds them under the account lock.</summary>
    private async Task<IReadOnlyList<BrokerOrderState>> CancelWhereAsync(Func<PaperOrder, bool> which, CancellationToken ct)
    {
        EnsureReachable();
        var changed = new List<BrokerOrderState>();
        await CommitAsync(authority.Unit(new AccountReads([], OpenPaperOrders: true), ledger =>
        {
            changed.Clear();
            var work = new List<NpgsqlBatchCommand>();
            var audit = new List<AuditEventDraft>();
            foreach (var order in ledger.PaperOrders.Where(o => o.State.IsOpen && which(o)).ToList())
            {
                ledger.RemoveWorking(order.Symbol, order.Side, order.State.RemainingQuantity);
                order.Status = BrokerOrderStatus.Canceled;
                ledger.Track(order);
                work.Add(UpdateOrder(order));
                work.Add(OrderStore.Reported(order.State, clock.GetUtcNow()));
                audit.Add(Event("broker.order.canceled", order, new
                {
                    brokerOrderId = order.BrokerOrderId, clientOrderId = order.ClientOrderId,
                    filledQuantity = AuditTrail.Text(order.FilledQuantity), canceledQuantity = AuditTrail.Text(order.Quantity - order.FilledQuantity),
                }));
                changed.Add(order.State);
            }
            return new UnitPlan(work, audit);
        }));
        foreach (var state in changed) OrderUpdated?.Invoke(state);
        return changed;
    }

    /// <summary>Closes every position Postgres holds with a market order at the current price (cancelling open orders first).</summary>
    public async Task<IReadOnlyList<BrokerOrderState>> CloseAllPositionsAsync(CancellationToken ct)
    {
        await CancelAllOrdersAsync(ct);
        var closing = new List<BrokerOrderState>();
        await CommitAsync(authority.Unit(AccountReads.None, ledger =>
        {
            closing.Clear();
            var work = new List<NpgsqlBatchCommand>();
            var audit = new List<AuditEventDraft>();
            foreach (var (symbol, holding) in ledger.Positions.ToList())
            {
                var request = new BrokerOrderRequest(Guid.CreateVersion7(clock.GetUtcNow()), "close-" + Guid.NewGuid().ToString("N")[..20], "flatten",
                    symbol, holding.Quantity > 0 ? OrderSide.Sell : OrderSide.Buy, Math.Abs(holding.Quantity), OrderType.Market, null, TimeInForce.Day);
                closing.Add(Submit(request, ledger, counted: false, work, audit));
            }
            return new UnitPlan(work, audit);
        }));
        foreach (var state in closing) OrderUpdated?.Invoke(state);
        return closing;
    }

    /// <summary>A new valid price may fill resting limit orders of its symbol.</summary>
    public async Task OnPriceAsync(PriceMark mark, CancellationToken ct)
    {
        if (Unreachable || !await AnyMarketableAsync(mark, ct)) return;
        var changed = new List<BrokerOrderState>();
        await CommitAsync(authority.Unit(new AccountReads([], OpenPaperOrders: true), ledger =>
        {
            changed.Clear();
            var work = new List<NpgsqlBatchCommand>();
            var audit = new List<AuditEventDraft>();
            foreach (var order in ledger.PaperOrders.Where(o => o.State.IsOpen && o.Symbol == mark.Symbol && IsMarketable(o, mark.Price)).ToList())
            {
                Fill(order, mark, ledger, counted: true, work, audit);
                work.Add(UpdateOrder(order));
                work.Add(OrderStore.Reported(order.State, clock.GetUtcNow()));
                changed.Add(order.State);
            }
            return new UnitPlan(work, audit);
        }));
        foreach (var state in changed) OrderUpdated?.Invoke(state);
    }

    /// <summary>A cheap look outside the lock, so a price with nothing to fill costs no locked transaction; the fill itself re-reads under the lock.</summary>
    private async Task<bool> AnyMarketableAsync(PriceMark mark, CancellationToken ct)
    {
        await using var command = db.CreateCommand("""
            select exists (select 1 from paper_orders where status in ('new', 'partially_filled') and symbol = $1
                and (order_type = 'market' or (side = 'buy' and limit_price >= $2) or (side = 'sell' and limit_price <= $2)))
            """);
        command.Parameters.AddWithValue(mark.Symbol);
        command.Parameters.AddWithValue(mark.Price);
        return (bool)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>
    /// A new order at the paper broker against <paramref name="ledger"/>: acknowledged, filled at once if marketable, cancelled if it
    /// may not rest. <paramref name="counted"/>: the ledger counts it as working (it has a decision row) until it fills or ends.
    /// </summary>
    private BrokerOrderState Submit(BrokerOrderRequest request, AccountLedger ledger, bool counted, List<NpgsqlBatchCommand> work, List<AuditEventDraft> audit)
    {
        var order = new PaperOrder(Guid.CreateVersion7(clock.GetUtcNow()), request.ClientOrderId, request.Symbol, request.Side,
            request.Quantity, request.Type, request.LimitPrice, request.TimeInForce);
        var fills = new List<NpgsqlBatchCommand>();
        var fillEvents = new List<AuditEventDraft>();
        if (prices.Get(request.Symbol) is not { } mark)
        {
            order.Status = BrokerOrderStatus.Rejected;
            order.RejectReason = "no market price for the symbol";
        }
        else if (IsMarketable(order, mark.Price)) Fill(order, mark, ledger, counted, fills, fillEvents);
        else if (order.TimeInForce is TimeInForce.Ioc or TimeInForce.Fok) order.Status = BrokerOrderStatus.Canceled;
        if (counted && !order.State.IsOpen) ledger.RemoveWorking(order.Symbol, order.Side, order.Quantity - order.FilledQuantity);
        ledger.Track(order);
        // Inserted as it stands after an immediate fill (one statement instead of an insert and an update), before its fills.
        work.Add(InsertOrder(order));
        work.AddRange(fills);
        audit.Add(Event("broker.order.acknowledged", order, new
        {
            brokerOrderId = order.BrokerOrderId, clientOrderId = order.ClientOrderId, symbol = order.Symbol, side = OrderText.Format(order.Side),
            quantity = AuditTrail.Text(order.Quantity), orderType = OrderText.Format(order.Type), limitPrice = AuditTrail.Text(order.LimitPrice),
            timeInForce = OrderText.Format(order.TimeInForce), status = OrderText.Format(order.Status), rejectReason = order.RejectReason,
        }));
        audit.AddRange(fillEvents);
        return order.State;
    }

    internal const string OrderColumns =
        "broker_order_id, client_order_id, symbol, side, quantity, order_type, limit_price, time_in_force, status, filled_quantity, avg_fill_price";

    internal static NpgsqlBatchCommand OrdersByClientId(string[] clientOrderIds) =>
        Command($"select {OrderColumns} from paper_orders where client_order_id = any($1)", [clientOrderIds]);

    internal static NpgsqlBatchCommand OpenOrders() => new($"select {OrderColumns} from paper_orders where status in ('new', 'partially_filled')");

    internal static PaperOrder ReadOrder(NpgsqlDataReader reader) => new(
        reader.GetGuid(0), reader.GetString(1), reader.GetString(2), OrderText.ParseSide(reader.GetString(3)), reader.GetDecimal(4),
        OrderText.ParseType(reader.GetString(5)), reader.IsDBNull(6) ? null : reader.GetDecimal(6), OrderText.ParseTimeInForce(reader.GetString(7)))
    {
        Status = OrderText.ParseBrokerStatus(reader.GetString(8)),
        FilledQuantity = reader.GetDecimal(9),
        AvgFillPrice = reader.IsDBNull(10) ? null : reader.GetDecimal(10),
    };

    private static bool IsMarketable(PaperOrder order, decimal price) => order.Type == OrderType.Market
        || (order.Side == OrderSide.Buy ? price <= order.LimitPrice : price >= order.LimitPrice);

    /// <summary>Fills the rest of <paramref name="order"/>: statements on the account and position, and the ledger follows.</summary>
    private void Fill(PaperOrder order, PriceMark mark, AccountLedger ledger, bool counted, List<NpgsqlBatchCommand> work, List<AuditEventDraft> audit)
    {
        var quantity = order.Quantity - order.FilledQuantity;
        var price = _slippage.FillPrice(order.Side, mark.Price, quantity, mark.Volatility);
        // A limit order never fills worse than its limit.
        if (order.LimitPrice is { } limit) price = order.Side == OrderSide.Buy ? Math.Min(price, limit) : Math.Max(price, limit);
        price = Math.Round(price, 4, MidpointRounding.ToEven);
        var signed = order.Side == OrderSide.Buy ? quantity : -quantity;

        if (counted && order.State.IsOpen) ledger.RemoveWorking(order.Symbol, order.Side, quantity);
        order.AvgFillPrice = ((order.AvgFillPrice ?? 0m) * order.FilledQuantity + price * quantity) / (order.FilledQuantity + quantity);
        order.FilledQuantity += quantity;
        order.Status = BrokerOrderStatus.Filled;
        ledger.Track(order);

        var now = clock.GetUtcNow();
        work.Add(Command("insert into paper_fills (broker_order_id, symbol, side, quantity, price, filled_at) values ($1, $2, $3, $4, $5, $6)",
            order.BrokerOrderId, order.Symbol, OrderText.Format(order.Side), quantity, price, now));
        work.Add(Command("update paper_account set cash = cash - $1, updated_at = $2 where id = 1", signed * price, now));
        work.Add(Command("""
            insert into paper_positions as p (symbol, quantity, avg_price, realized_pnl, updated_at) values ($1, $2, $3, 0, $4)
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
            """, order.Symbol, signed, price, now));
        ledger.ApplyFill(order.Symbol, signed, price);
        // The ledger holds the position as committed before this fill (read under the lock), so this test is exact.
        if (!ledger.Positions.ContainsKey(order.Symbol)) work.Add(Command("delete from paper_positions where symbol = $1 and quantity = 0", order.Symbol));
        audit.Add(Event("broker.fill", order, new
        {
            brokerOrderId = order.BrokerOrderId, clientOrderId = order.ClientOrderId, symbol = order.Symbol, side = OrderText.Format(order.Side),
            quantity = AuditTrail.Text(quantity), price = AuditTrail.Text(price), filledQuantity = AuditTrail.Text(order.FilledQuantity),
            avgFillPrice = AuditTrail.Text(order.AvgFillPrice), status = OrderText.Format(order.Status),
        }));
    }

    private AuditEventDraft Event<T>(string type, PaperOrder order, T payload) =>
        AuditEventDraft.Create(clock.GetUtcNow(), "broker:" + Name, type, "order:" + order.ClientOrderId, payload);

    private NpgsqlBatchCommand InsertOrder(PaperOrder order) => Command("""
        insert into paper_orders (broker_order_id, client_order_id, symbol, side, quantity, order_type, limit_price, time_in_force,
            status, filled_quantity, avg_fill_price, created_at, updated_at)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
        """, order.BrokerOrderId, order.ClientOrderId, order.Symbol, OrderText.Format(order.Side), order.Quantity,
        OrderText.Format(order.Type), order.LimitPrice, OrderText.Format(order.TimeInForce),
        OrderText.Format(order.Status), order.FilledQuantity, order.AvgFillPrice, clock.GetUtcNow());

    private NpgsqlBatchCommand UpdateOrder(PaperOrder order) => Command(
        "update paper_orders set status = $2, filled_quantity = $3, avg_fill_price = $4, updated_at = $5 where broker_order_id = $1",
        order.BrokerOrderId, OrderText.Format(order.Status), order.FilledQuantity, order.AvgFillPrice, clock.GetUtcNow());

    private static NpgsqlBatchCommand Command(string sql, params object?[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
        return command;
    }

    private void EnsureReachable()
    {
        if (Unreachable) throw new BrokerException(BrokerErrorKind.Unavailable, "unreachable", "The paper broker is unreachable (fault injection).");
    }

    /// <summary>Commits a paper change; a failure is the broker's, and there is no memory to repair.</summary>
    private async Task CommitAsync(PgWork unit)
    {
        try
        {
            await writer.CommitAsync(unit);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "A paper broker change could not be committed");
            throw new BrokerException(BrokerErrorKind.Unavailable, "storage_unavailable", "The paper broker could not record the change.", ex);
        }
    }
}

/// <summary>A paper order as <c>paper_orders</c> holds it; changed only inside a decision unit.</summary>
public sealed class PaperOrder(
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
