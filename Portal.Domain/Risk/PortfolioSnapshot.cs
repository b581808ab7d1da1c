namespace Portal.Domain.Risk;

/// <summary>One symbol's book: the held position plus what working orders could add to it.</summary>
public readonly record struct SymbolBook(decimal PositionQuantity, decimal OpenBuyQuantity, decimal OpenSellQuantity, decimal Mark)
{
    /// <summary>Largest absolute position reachable if every working order on one side fills.</summary>
    public decimal WorstCaseQuantity => Math.Max(Math.Abs(PositionQuantity + OpenBuyQuantity), Math.Abs(PositionQuantity - OpenSellQuantity));

    public decimal ExposureUsd => WorstCaseQuantity * Mark;

    public bool IsOpen => WorstCaseQuantity != 0m;
}

/// <summary>
/// The account as the pre-trade check sees it. Aggregates are kept precomputed so that a decision
/// reads a dictionary entry and a few numbers, never loops over the portfolio.
/// </summary>
public sealed class PortfolioSnapshot
{
    private readonly Dictionary<string, SymbolBook> _books;

    public PortfolioSnapshot(
        decimal equity, decimal dayStartEquity, decimal weekStartEquity, decimal highWaterMark,
        IReadOnlyDictionary<string, SymbolBook> books)
    {
        Equity = equity;
        DayStartEquity = dayStartEquity;
        WeekStartEquity = weekStartEquity;
        HighWaterMark = Math.Max(highWaterMark, equity);
        _books = new Dictionary<string, SymbolBook>(books, StringComparer.Ordinal);
        foreach (var book in _books.Values)
        {
            GrossExposureUsd += book.ExposureUsd;
            if (book.IsOpen) OpenPositionCount++;
        }
    }

    public decimal Equity { get; }
    public decimal DayStartEquity { get; }
    public decimal WeekStartEquity { get; }
    public decimal HighWaterMark { get; }
    public decimal GrossExposureUsd { get; }
    public int OpenPositionCount { get; }

    public decimal DailyLossUsd => Math.Max(0m, DayStartEquity - Equity);
    public decimal WeeklyLossUsd => Math.Max(0m, WeekStartEquity - Equity);
    public decimal Drawdown => HighWaterMark <= 0m ? 0m : Math.Max(0m, (HighWaterMark - Equity) / HighWaterMark);

    public IReadOnlyDictionary<string, SymbolBook> Books => _books;

    public SymbolBook Book(string symbol) => _books.TryGetValue(symbol, out var book) ? book : default;
}

/// <summary>Orders already counted against the rate limits, before this one; the key's counts are zero for Portal's own senders.</summary>
public readonly record struct OrderCounters(long StrategyLastMinute, long StrategyToday, long GlobalLastMinute, long GlobalToday, long KeyLastMinute = 0, long KeyToday = 0);

/// <summary>Orders one API key may send, whatever strategies it trades (configuration, not a versioned limit).</summary>
public readonly record struct KeyRateLimits(long MaxOrdersPerMinute, long MaxOrdersPerDay);
