using System.Collections.Concurrent;

namespace Portal.Features.Risk;

/// <summary>The last valid price per symbol: the reference for market orders, collars and marks.</summary>
public sealed class PriceBook
{
    private readonly ConcurrentDictionary<string, PriceMark> _marks = new(StringComparer.Ordinal);

    public event Action<PriceMark>? PriceChanged;

    public void Update(PriceMark mark)
    {
        _marks[mark.Symbol] = mark;
        PriceChanged?.Invoke(mark);
    }

    /// <summary>
    /// Sets a price from outside the tick feed (a bar read at start-up) unless a price at least as recent is known, so it
    /// never replaces a tick's price. Returns whether it was set.
    /// </summary>
    public bool SeedIfNewer(PriceMark mark)
    {
        while (true)
        {
            if (_marks.TryGetValue(mark.Symbol, out var known))
            {
                if (known.Time >= mark.Time) return false;
                if (!_marks.TryUpdate(mark.Symbol, mark, known)) continue;
            }
            else if (!_marks.TryAdd(mark.Symbol, mark)) continue;
            PriceChanged?.Invoke(mark);
            return true;
        }
    }

    public PriceMark? Get(string symbol) => _marks.TryGetValue(symbol, out var mark) ? mark : null;

    public IReadOnlyCollection<PriceMark> All => _marks.Values.ToList();
}

/// <summary>A valid price; Volatility is the recent per-tick return standard deviation, used by the slippage model.</summary>
public sealed record PriceMark(string Symbol, decimal Price, DateTimeOffset Time, decimal Volatility);
