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
    /// rows, statements and audit events are added to <paramref name="plan"/>. Null when the broker
    /// cannot take it now; the order then takes the ordinary path (<see cref="IBroker.SubmitAsync"/>) after the decision.
    /// </summary>
    BrokerOrderState? SubmitInDecision(BrokerOrderRequest request, AccountLedger ledger, UnitPlanBuilder plan);

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

    public BrokerOrderState? SubmitInDecision(BrokerOrderRequest request, AccountLedger ledger, UnitPlanBuilder plan) =>
        Unreachable || ledger.PaperOrder(request.ClientOrderId) is not null ? null : Submit(request, ledger, counted: true, plan);

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
            var plan = new UnitPlanBuilder();
            // An order with a decision row counts as working in the ledger until it fills or ends.
            state = Submit(request, ledger, counted: ledger.IsRecorded(request.ClientOrderId), plan);
            plan.Commands.Add(OrderStore.Reported(state, clock.GetUtcNow()));
            changed = true;
            return plan.Build();
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
        // No row yet (PaperAccountSetup has not run): an empty account read as zero cash would become the day's start equity.
        if (!await reader.ReadAsync(ct))
            throw new BrokerException(BrokerErrorKind.Unavailable, "no-account", "The paper account is not created yet.");
        var cash = reader.GetDecimal(0);
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
            var plan = new UnitPlanBuilder();
            foreach (var order in ledger.PaperOrders.Where(o => o.State.IsOpen && which(o)).ToList())
            {
                ledger.RemoveWorking(order.Symbol, order.Side, order.State.RemainingQuantity);
                order.Status = BrokerOrderStatus.Canceled;
                ledger.Track(order);
                plan.Commands.Add(UpdateOrder(order));
                plan.Commands.Add(OrderStore.Reported(order.State, clock.GetUtcNow()));
                plan.AuditEvents.Add(Event("broker.order.canceled", order, new
                {
                    brokerOrderId = order.BrokerOrderId, clientOrderId = order.ClientOrderId,
                    filledQuantity = AuditTrail.Text(order.FilledQuantity), canceledQuantity = AuditTrail.Text(order.Quantity - order.FilledQuantity),
                }));
                changed.Add(order.State);
            }
            return plan.Build();
        }));
        foreach (var state in changed) OrderUpdated?.Invoke(state);
        return changed;
    }

    /// <summary>The client order id prefix of the orders a flatten sends; refused in clients' orders (README, "Orders").</summary>
    public const string ClosingOrderIdPrefix = "close-";

    /// <summary>Closes every position Postgres holds with a market order at the current price (cancelling open orders first).</summary>
    public async Task<IReadOnlyList<BrokerOrderState>> CloseAllPositionsAsync(CancellationToken ct)
    {
        await CancelAllOrdersAsync(ct);
        var closing = new List<BrokerOrderState>();
        await CommitAsync(authority.Unit(AccountReads.None, ledger =>
        {
            closing.Clear();
            var plan = new UnitPlanBuilder();
            foreach (var (symbol, holding) in ledger.Positions.ToList())
            {
                var request = new BrokerOrderRequest(Guid.CreateVersion7(clock.GetUtcNow()), ClosingOrderIdPrefix + Guid.NewGuid().ToString("N")[..20], "flatten",
                    symbol, holding.Quantity > 0 ? OrderSide.Sell : OrderSide.Buy, Math.Abs(holding.Quantity), OrderType.Market, null, TimeInForce.Day);
                closing.Add(Submit(request, ledger, counted: false, plan));
            }
            return plan.Build();
        }));
        foreach (var state in closing) OrderUpdated?.Invoke(state);
        return closing;
    }

    /// <summary>New valid prices (the newest of each symbol) may fill resting limit orders of their symbols.</summary>
    public async Task OnPricesAsync(IReadOnlyList<PriceMark> marks, CancellationToken ct)
    {
        if (Unreachable || marks.Count == 0) return;
        var marketable = await MarketableSymbolsAsync(marks, ct);
        if (marketable.Count == 0) return;
        var bySymbol = marks.Where(m => marketable.Contains(m.Symbol)).ToDictionary(m => m.Symbol, StringComparer.Ordinal);
        var changed = new List<BrokerOrderState>();
        await CommitAsync(authority.Unit(new AccountReads([], OpenPaperOrders: true), ledger =>
        {
            changed.Clear();
            var plan = new UnitPlanBuilder();
            foreach (var order in ledger.PaperOrders.Where(o => o.State.IsOpen && bySymbol.TryGetValue(o.Symbol, out var mark) && IsMarketable(o, mark.Price)).ToList())
            {
                Fill(order, bySymbol[order.Symbol], ledger, counted: true, plan);
                plan.Commands.Add(UpdateOrder(order));
                plan.Commands.Add(OrderStore.Reported(order.State, clock.GetUtcNow()));
                changed.Add(order.State);
            }
            return plan.Build();
        }));
        foreach (var state in changed) OrderUpdated?.Invoke(state);
    }

    /// <summary>One cheap look outside the lock for all the prices, so prices with nothing to fill cost no locked transaction; the fill itself re-reads under the lock.</summary>
    private async Task<HashSet<string>> MarketableSymbolsAsync(IReadOnlyList<PriceMark> marks, CancellationToken ct)
    {
        await using var command = db.CreateCommand("""
            select distinct o.symbol from paper_orders o join unnest($1::text[], $2::numeric[]) as m(symbol, price) on m.symbol = o.symbol
            where o.status in ('new', 'partially_filled')
                and (o.order_type = 'market' or (o.side = 'buy' and o.limit_price >= m.price) or (o.side = 'sell' and o.limit_price <= m.price))
            """);
        command.Parameters.AddWithValue(marks.Select(m => m.Symbol).ToArray());
        command.Parameters.AddWithValue(marks.Select(m => m.Price).ToArray());
        var symbols = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) symbols.Add(reader.GetString(0));
        return symbols;
    }

    /// <summary>
    /// A new order at the paper broker against <paramref name="ledger"/>: acknowledged, filled at once if marketable, cancelled if it
    /// may not rest. <paramref name="counted"/>: the ledger counts it as working (it has a decision row) until it fills or ends.
    /// </summary>
    private BrokerOrderState Submit(BrokerOrderRequest request, AccountLedger ledger, bool counted, UnitPlanBuilder plan)
    {
        var order = new PaperOrder(Guid.CreateVersion7(clock.GetUtcNow()), request.ClientOrderId, request.Symbol, request.Side,
            request.Quantity, request.Type, request.LimitPrice, request.TimeInForce);
        var fill = new UnitPlanBuilder();
        if (prices.Get(request.Symbol) is not { } mark)
        {
            order.Status = BrokerOrderStatus.Rejected;
            order.RejectReason = "no market price for the symbol";
        }
        else if (IsMarketable(order, mark.Price)) Fill(order, mark, ledger, counted, fill);
        else if (order.TimeInForce is TimeInForce.Ioc or TimeInForce.Fok) order.Status = BrokerOrderStatus.Canceled;
        if (counted && !order.State.IsOpen) ledger.RemoveWorking(order.Symbol, order.Side, order.Quantity - order.FilledQuantity);
        ledger.Track(order);
        // Inserted as it stands after an immediate fill (one row instead of an insert and an update); the orders table is
        // written before the fills table (see PaperOrdersTable.Order).
        plan.Rows.Add(PaperOrdersTable.Instance.Row(PaperOrderRow.Of(order, clock.GetUtcNow())));
        plan.Rows.AddRange(fill.Rows);
        plan.AuditEvents.Add(Event("broker.order.acknowledged", order, new
        {
            brokerOrderId = order.BrokerOrderId, clientOrderId = order.ClientOrderId, symbol = order.Symbol, side = OrderText.Format(order.Side),
            quantity = AuditTrail.Text(order.Quantity), orderType = OrderText.Format(order.Type), limitPrice = AuditTrail.Text(order.LimitPrice),
            timeInForce = OrderText.Format(order.TimeInForce), status = OrderText.Format(order.Status), rejectReason = order.RejectReason,
        }));
        plan.AuditEvents.AddRange(fill.AuditEvents);
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

    /// <summary>
    /// Fills the rest of <paramref name="order"/>: its fill row, and the ledger follows; the account and position rows are
    /// written once per batch from the ledger (see <see cref="Settle"/>).
    /// </summary>
    private void Fill(PaperOrder order, PriceMark mark, AccountLedger ledger, bool counted, UnitPlanBuilder plan)
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

        plan.Rows.Add(PaperFillsTable.Instance.Row(new PaperFillRow(order.BrokerOrderId, order.Symbol, OrderText.Format(order.Side), quantity, price, clock.GetUtcNow())));
        ledger.ApplyFill(order.Symbol, signed, price);
        plan.AuditEvents.Add(Event("broker.fill", order, new
        {
            brokerOrderId = order.BrokerOrderId, clientOrderId = order.ClientOrderId, symbol = order.Symbol, side = OrderText.Format(order.Side),
            quantity = AuditTrail.Text(quantity), price = AuditTrail.Text(price), filledQuantity = AuditTrail.Text(order.FilledQuantity),
            avgFillPrice = AuditTrail.Text(order.AvgFillPrice), status = OrderText.Format(order.Status),
        }));
    }

    /// <summary>
    /// The account and positions after every fill of a batch, as the ledger (read under the account lock) holds them: one
    /// update of the cash, one upsert of every moved position and one delete of every closed one, however many fills.
    /// </summary>
    internal static IReadOnlyList<NpgsqlBatchCommand> Settle(AccountLedger ledger, DateTimeOffset now)
    {
        if (ledger.RealizedChanges.Count == 0) return [];
        var commands = new List<NpgsqlBatchCommand>
        {
            Command("update paper_account set cash = cash + $1, updated_at = $2 where id = 1", ledger.CashChange, now),
        };
        var held = ledger.RealizedChanges.Where(c => ledger.Positions.ContainsKey(c.Key)).ToList();
        if (held.Count > 0)
        {
            var upsert = new NpgsqlBatchCommand("""
                insert into paper_positions as p (symbol, quantity, avg_price, realized_pnl, updated_at)
                select symbol, quantity, avg_price, realized_pnl, $5
                from unnest($1::text[], $2::numeric[], $3::numeric[], $4::numeric[]) as c (symbol, quantity, avg_price, realized_pnl)
                on conflict (symbol) do update set quantity = excluded.quantity, avg_price = excluded.avg_price,
                    realized_pnl = p.realized_pnl + excluded.realized_pnl, updated_at = excluded.updated_at
                """);
            upsert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. held.Select(c => c.Key)] });
            upsert.Parameters.Add(new NpgsqlParameter<decimal[]> { TypedValue = [.. held.Select(c => ledger.Positions[c.Key].Quantity)] });
            upsert.Parameters.Add(new NpgsqlParameter<decimal[]> { TypedValue = [.. held.Select(c => ledger.Positions[c.Key].AvgPrice)] });
            upsert.Parameters.Add(new NpgsqlParameter<decimal[]> { TypedValue = [.. held.Select(c => c.Value)] });
            upsert.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
            commands.Add(upsert);
        }
        var closed = ledger.RealizedChanges.Keys.Where(symbol => !ledger.Positions.ContainsKey(symbol)).ToArray();
        if (closed.Length > 0) commands.Add(Command("delete from paper_positions where symbol = any($1)", [closed]));
        return commands;
    }

    private AuditEventDraft Event<T>(string type, PaperOrder order, T payload) =>
        AuditEventDraft.Create(clock.GetUtcNow(), "broker:" + Name, type, "order:" + order.ClientOrderId, payload);

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

/// <summary>A new paper order's row as it stood when its unit decided (the order itself may change later in the batch).</summary>
internal sealed record PaperOrderRow(Guid BrokerOrderId, string ClientOrderId, string Symbol, string Side, decimal Quantity, string OrderType,
    decimal? LimitPrice, string TimeInForce, string Status, decimal FilledQuantity, decimal? AvgFillPrice, DateTimeOffset At)
{
    public static PaperOrderRow Of(PaperOrder order, DateTimeOffset at) => new(order.BrokerOrderId, order.ClientOrderId, order.Symbol,
        OrderText.Format(order.Side), order.Quantity, OrderText.Format(order.Type), order.LimitPrice, OrderText.Format(order.TimeInForce),
        OrderText.Format(order.Status), order.FilledQuantity, order.AvgFillPrice, at);
}

/// <summary>New paper orders, written set by set.</summary>
internal sealed class PaperOrdersTable : SetTable<PaperOrderRow>
{
    public static PaperOrdersTable Instance { get; } = new();

    // After the decisions (orders), before the fills that reference these rows.
    public override int Order => 1;

    protected override NpgsqlBatchCommand Insert(IReadOnlyList<PaperOrderRow> rows)
    {
        var command = new NpgsqlBatchCommand("""
            insert into paper_orders (broker_order_id, client_order_id, symbol, side, quantity, order_type, limit_price, time_in_force,
                status, filled_quantity, avg_fill_price, created_at, updated_at)
            select broker_order_id, client_order_id, symbol, side, quantity, order_type, limit_price, time_in_force,
                status, filled_quantity, avg_fill_price, at, at
            from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::text[], $7::numeric[], $8::text[],
                $9::text[], $10::numeric[], $11::numeric[], $12::timestamptz[])
                as r (broker_order_id, client_order_id, symbol, side, quantity, order_type, limit_price, time_in_force,
                status, filled_quantity, avg_fill_price, at)
            """);
        Column(command, rows, r => r.BrokerOrderId, NpgsqlTypes.NpgsqlDbType.Uuid);
        Column(command, rows, r => r.ClientOrderId, NpgsqlTypes.NpgsqlDbType.Text);
        Column(command, rows, r => r.Symbol, NpgsqlTypes.NpgsqlDbType.Text);
        Column(command, rows, r => r.Side, NpgsqlTypes.NpgsqlDbType.Text);
        Column(command, rows, r => r.Quantity, NpgsqlTypes.NpgsqlDbType.Numeric);
        Column(command, rows, r => r.OrderType, NpgsqlTypes.NpgsqlDbType.Text);
        Column(command, rows, r => r.LimitPrice, NpgsqlTypes.NpgsqlDbType.Numeric);
        Column(command, rows, r => r.TimeInForce, NpgsqlTypes.NpgsqlDbType.Text);
        Column(command, rows, r => r.Status, NpgsqlTypes.NpgsqlDbType.Text);
        Column(command, rows, r => r.FilledQuantity, NpgsqlTypes.NpgsqlDbType.Numeric);
        Column(command, rows, r => r.AvgFillPrice, NpgsqlTypes.NpgsqlDbType.Numeric);
        Column(command, rows, r => r.At, NpgsqlTypes.NpgsqlDbType.TimestampTz);
        return command;
    }
}

internal sealed record PaperFillRow(Guid BrokerOrderId, string Symbol, string Side, decimal Quantity, decimal Price, DateTimeOffset At);

/// <summary>Paper fills, written set by set after the paper orders they reference.</summary>
internal sealed class PaperFillsTable : SetTable<PaperFillRow>
{
    public static PaperFillsTable Instance { get; } = new();

    public override int Order => 2;

    protected override NpgsqlBatchCommand Insert(IReadOnlyList<PaperFillRow> rows)
    {
        var command = new NpgsqlBatchCommand("""
            insert into paper_fills (broker_order_id, symbol, side, quantity, price, filled_at)
            select * from unnest($1::uuid[], $2::text[], $3::text[], $4::numeric[], $5::numeric[], $6::timestamptz[])
            """);
        Column(command, rows, r => r.BrokerOrderId, NpgsqlTypes.NpgsqlDbType.Uuid);
        Column(command, rows, r => r.Symbol, NpgsqlTypes.NpgsqlDbType.Text);
        Column(command, rows, r => r.Side, NpgsqlTypes.NpgsqlDbType.Text);
        Column(command, rows, r => r.Quantity, NpgsqlTypes.NpgsqlDbType.Numeric);
        Column(command, rows, r => r.Price, NpgsqlTypes.NpgsqlDbType.Numeric);
        Column(command, rows, r => r.At, NpgsqlTypes.NpgsqlDbType.TimestampTz);
        return command;
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
