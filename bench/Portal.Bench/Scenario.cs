using Portal.Domain.Orders;
using Portal.Domain.Risk;

namespace Portal.Bench;

/// <summary>
/// A realistic account for the pre-trade check at the seed's default limits: $100k equity, 20 open
/// positions of about $1.5k each (gross ≈ $30k, so MaxOpenPositions = 20 is reached), working orders
/// on five of them, and rate counters below their limits. Every order below is checked by a unit of
/// <see cref="Scenario.Verify"/> so a benchmark can never silently measure the wrong path.
/// </summary>
public static class Scenario
{
    public static readonly RiskLimits Limits = RiskLimits.SeedDefaults;

    /// <summary>Symbol, shares held, mark; working buys/sells on the first five.</summary>
    private static readonly (string Symbol, decimal Quantity, decimal Mark)[] Positions =
    [
        ("AAPL", 7m, 228.50m), ("MSFT", 4m, 415.20m), ("SPY", 3m, 590.10m), ("QQQ", 3m, 505.30m), ("NVDA", 60m, 142.80m),
        ("AMZN", 8m, 201.40m), ("GOOGL", 9m, 171.90m), ("META", 3m, 565.00m), ("JPM", 6m, 243.70m), ("TSLA", 4m, 338.60m),
        ("XOM", 13m, 112.40m), ("JNJ", 10m, 155.20m), ("V", 5m, 312.80m), ("PG", 9m, 168.30m), ("UNH", 3m, 520.10m),
        ("HD", 4m, 401.70m), ("MA", 3m, 525.90m), ("KO", -22m, 68.40m), ("PEP", -9m, 151.20m), ("DIS", 14m, 112.90m),
    ];

    public static PortfolioSnapshot Portfolio() => new(
        equity: 100_000m, dayStartEquity: 100_350m, weekStartEquity: 99_200m, highWaterMark: 101_800m, books: Books());

    /// <summary>The 20 books; the first five carry working orders (2 shares to buy, and on three of them 1 to sell).</summary>
    public static Dictionary<string, SymbolBook> Books() => Positions.Select((p, i) => (p.Symbol, Book: new SymbolBook(p.Quantity, i < 5 ? 2m : 0m, i is >= 2 and < 5 ? 1m : 0m, p.Mark)))
        .ToDictionary(x => x.Symbol, x => x.Book, StringComparer.Ordinal);

    /// <summary>Under every rate limit (5/min, 100/day): the order is the 3rd this minute.</summary>
    public static readonly OrderCounters Counters = new(StrategyLastMinute: 2, StrategyToday: 41, GlobalLastMinute: 2, GlobalToday: 63);

    /// <summary>The strategy already sent 5 orders this minute.</summary>
    public static readonly OrderCounters CountersAtLimit = Counters with { StrategyLastMinute = 5 };

    public sealed record Case(string Id, string Name, OrderIntent Order, decimal Price, OrderCounters Counters, RejectReason Expected);

    /// <summary>The decisions benchmarked, from the longest accepted path to an early refusal.</summary>
    public static readonly Case[] Cases =
    [
        // Adds risk to a held position: every check runs, then the rate limits.
        new("AcceptBuy", "Accepted: market buy adding to a position", new("mom-1", "AAPL", OrderSide.Buy, 5m, OrderType.Market, null), 228.61m, Counters, RejectReason.None),
        // A limit order inside the collar adding risk: the collar and every check.
        new("AcceptLimit", "Accepted: limit buy inside the collar", new("mom-1", "MSFT", OrderSide.Buy, 3m, OrderType.Limit, 414.90m), 415.37m, Counters, RejectReason.None),
        // Only reduces a position: skips the size/exposure/loss checks.
        new("AcceptReduce", "Accepted: market sell reducing a position", new("mom-1", "DIS", OrderSide.Sell, 4m, OrderType.Market, null), 112.85m, Counters, RejectReason.None),
        new("RejectOrderValue", "Rejected: MaxOrderValue (early)", new("mom-1", "SPY", OrderSide.Buy, 30m, OrderType.Market, null), 590.22m, Counters, RejectReason.MaxOrderValue),
        new("RejectCollar", "Rejected: PriceCollar", new("mom-1", "QQQ", OrderSide.Buy, 2m, OrderType.Limit, 606.00m), 505.30m, Counters, RejectReason.PriceCollar),
        new("RejectPosition", "Rejected: MaxPositionSize (late)", new("mom-1", "NVDA", OrderSide.Buy, 30m, OrderType.Market, null), 142.80m, Counters, RejectReason.MaxPositionSize),
        new("RejectOpenPositions", "Rejected: MaxOpenPositions (new symbol)", new("mom-1", "IBM", OrderSide.Buy, 5m, OrderType.Market, null), 231.10m, Counters, RejectReason.MaxOpenPositions),
        // The full accepted path, refused at the very last step.
        new("RejectRate", "Rejected: MaxOrdersPerMinute (last check)", new("mom-1", "AAPL", OrderSide.Buy, 5m, OrderType.Market, null), 228.61m, CountersAtLimit, RejectReason.MaxOrdersPerMinute),
    ];

    /// <summary>Throws unless every case decides as its name says.</summary>
    public static void Verify()
    {
        var portfolio = Portfolio();
        foreach (var c in Cases)
        {
            var decision = PreTradeCheck.Evaluate(c.Order, portfolio, Limits, c.Counters, c.Price, Portal.Domain.MarketData.SymbolDataStatus.Ok, Portal.Domain.Trading.TradingMode.Active);
            if (decision.Reason != c.Expected)
                throw new InvalidOperationException($"Scenario {c.Id} '{c.Name}' decided {decision.Reason} (limit {decision.Limit}, actual {decision.Actual}), expected {c.Expected}.");
        }
    }
}
