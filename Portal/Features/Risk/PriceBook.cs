using System.Collections.Concurrent;

namespace Portal.Features.Risk;

/// <summary>The last valid price per symbol: the reference for market orders, collars and marks.</summary>
public sealed class PriceBook
{
    private readonly ConcurrentDictionary<string, PriceMark> _marks = new(StringComparer.Ordinal);

    public event Action<PriceMark>? PriceChanged;

    /// <summary>
    /// A validated tick's price, unless a newer one is in force already: ticks are validated in order under their symbol's
    /// lock but written here after it, so two batches of one symbol may arrive in the other order.
    /// </summary>
    public void Update(PriceMark mark) => Set(mark, replacesSameTime: true);

    /// <summary>
    /// Sets a price from outside the tick feed (a bar read at start-up) unless a price at least as recent is known, so it
    /// never replaces a tick's price. Returns whether it was set.
    /// </summary>
    public bool SeedIfNewer(PriceMark mark) => Set(mark, replacesSameTime: false);

    private bool Set(PriceMark mark, bool replacesSameTime)
    {
        while (true)
        {
            if (_marks.TryGetValue(mark.Symbol, out var known))
            {
                if (known.Time > mark.Time || (known.Time == mark.Time && !replacesSameTime)) return false;
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
