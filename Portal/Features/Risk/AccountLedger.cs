using Portal.Domain.Orders;
using Portal.Domain.Risk;
using Portal.Features.Broker;

namespace Portal.Features.Risk;

/// <summary>A held position as the account's record shows it.</summary>
public readonly record struct Holding(decimal Quantity, decimal AvgPrice);

/// <summary>
/// The account as read under its lock in one group-commit transaction (see <see cref="AccountAuthority"/>): positions,
/// cash, working orders, equity marks and the client order ids the batch's decisions asked about. Every decision of the
/// batch records what it did here before the next one is checked, so the state each decision sees is exactly what
/// the transaction will have committed before it. It lives for one transaction and is used by one thread.
/// </summary>
public sealed class AccountLedger(PriceBook prices, decimal cash, decimal? dayStartEquity, decimal? weekStartEquity, decimal? highWaterMark)
{
    private readonly Dictionary<string, Holding> _positions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (decimal Buy, decimal Sell)> _working = new(StringComparer.Ordinal);
    private readonly HashSet<string> _recorded = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PaperOrder> _paperOrders = new(StringComparer.Ordinal);
    private readonly Dictionary<string, decimal> _realizedChanges = new(StringComparer.Ordinal);
    private PortfolioSnapshot? _snapshot;

    public decimal Cash { get; private set; } = cash;

    /// <summary>How much the fills of this transaction moved the cash.</summary>
    public decimal CashChange { get; private set; }

    /// <summary>The symbols whose position a fill of this transaction moved, with the profit or loss it realized.</summary>
    public IReadOnlyDictionary<string, decimal> RealizedChanges => _realizedChanges;

    public IReadOnlyDictionary<string, Holding> Positions => _positions;

    /// <summary>The paper orders read under the lock: those the batch asked for by id, and every open one when asked.</summary>
    public IEnumerable<PaperOrder> PaperOrders => _paperOrders.Values;

    public PaperOrder? PaperOrder(string clientOrderId) => _paperOrders.GetValueOrDefault(clientOrderId);

    /// <summary>Whether <c>orders</c> holds a decision for <paramref name="clientOrderId"/> (asked for by the batch, or made in it).</summary>
    public bool IsRecorded(string clientOrderId) => _recorded.Contains(clientOrderId);

    /// <summary>The pre-trade check's view: positions at this instance's marks (the average price without one), working orders on top.</summary>
    public PortfolioSnapshot Snapshot()
    {
        if (_snapshot is not null) return _snapshot;
        var books = new Dictionary<string, SymbolBook>(StringComparer.Ordinal);
        var equity = Cash;
        foreach (var (symbol, holding) in _positions)
        {
            var mark = prices.Get(symbol)?.Price ?? holding.AvgPrice;
            equity += holding.Quantity * mark;
            books[symbol] = new SymbolBook(holding.Quantity, 0m, 0m, mark);
        }
        foreach (var (symbol, (buy, sell)) in _working)
        {
            var book = books.TryGetValue(symbol, out var existing) ? existing : new SymbolBook(0m, 0m, 0m, prices.Get(symbol)?.Price ?? 0m);
            books[symbol] = book with { OpenBuyQuantity = book.OpenBuyQuantity + buy, OpenSellQuantity = book.OpenSellQuantity + sell };
        }
        // Before the first mark of the trading day is written (see RiskBook), the day starts now: no loss yet.
        return _snapshot = new PortfolioSnapshot(equity, dayStartEquity ?? equity, weekStartEquity ?? dayStartEquity ?? equity, highWaterMark ?? equity, books);
    }

    internal void LoadPosition(string symbol, decimal quantity, decimal avgPrice) => _positions[symbol] = new Holding(quantity, avgPrice);

    internal void LoadRecorded(string clientOrderId) => _recorded.Add(clientOrderId);

    internal void LoadPaperOrder(PaperOrder order) => _paperOrders[order.ClientOrderId] = order;

    /// <summary>A decision was recorded; an accepted one works until the broker fills or ends it.</summary>
    public void Recorded(string clientOrderId, bool accepted, string symbol, OrderSide side, decimal quantity)
    {
        _recorded.Add(clientOrderId);
        if (accepted) AddWorking(symbol, side, quantity);
    }

    public void AddWorking(string symbol, OrderSide side, decimal quantity)
    {
        var (buy, sell) = _working.GetValueOrDefault(symbol);
        _working[symbol] = side == OrderSide.Buy ? (buy + quantity, sell) : (buy, sell + quantity);
        _snapshot = null;
    }

    /// <summary>Part of an order stopped working (filled, cancelled, refused by the broker).</summary>
    public void RemoveWorking(string symbol, OrderSide side, decimal quantity) => AddWorking(symbol, side, -quantity);

    /// <summary>A paper order's state after a change, so later decisions in the batch see it.</summary>
    public void Track(PaperOrder order) => _paperOrders[order.ClientOrderId] = order;

    /// <summary>A fill moves cash and the position, as the paper broker's statements do in the database.</summary>
    public void ApplyFill(string symbol, decimal signed, decimal price)
    {
        Cash -= signed * price;
        CashChange -= signed * price;
        var before = _positions.GetValueOrDefault(symbol);
        var realized = before.Quantity != 0m && Math.Sign(before.Quantity) != Math.Sign(signed)
            ? Math.Min(Math.Abs(signed), Math.Abs(before.Quantity)) * (price - before.AvgPrice) * Math.Sign(before.Quantity)
            : 0m;
        _realizedChanges[symbol] = _realizedChanges.GetValueOrDefault(symbol) + realized;
        var after = before.Quantity + signed;
        var avg = before.Quantity == 0m || Math.Sign(before.Quantity) == Math.Sign(signed)
            ? after == 0m ? 0m : (before.AvgPrice * before.Quantity + price * signed) / after
            : Math.Abs(signed) > Math.Abs(before.Quantity) ? price : before.AvgPrice;
        if (after == 0m) _positions.Remove(symbol);
        else _positions[symbol] = new Holding(after, avg);
        _snapshot = null;
    }
}
