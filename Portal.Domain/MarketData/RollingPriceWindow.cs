using System.Numerics;

namespace Portal.Domain.MarketData;

/// <summary>
/// The last N prices, kept in arrival order (to evict the oldest) and sorted (for median and MAD), so a
/// spike check costs O(N) with no sorting and no allocation per tick.
/// </summary>
/// <remarks>
/// The sorted copy holds doubles: in decimal the median/MAD walk was over ten times slower.
/// Prices have at most 15 significant digits (what <see cref="Tick.TryFromDoubles"/> produces and far more
/// than any quote), so distinct prices stay distinct and equal prices stay equal as doubles. A tick whose
/// double z-score lies within rounding error of the limit is re-judged in exact decimal arithmetic, so the
/// limit is honoured exactly ("at the limit passes").
/// </remarks>
internal sealed class RollingPriceWindow
{
    // MAD × 1.4826 estimates the standard deviation of normal data (1 / Φ⁻¹(3/4)); Iglewicz & Hoaglin's
    // modified z-score uses the same constant as 0.6745.
    private const decimal MadToSigma = 1.4826m;

    // Generous bound, per unit of price magnitude, on the error of the double median, MAD and deviation
    // (each is a few roundings of values no larger than the largest price): 64 machine epsilons (2⁻⁵²;
    // double.Epsilon is the smallest subnormal, something else).
    private static readonly double RoundingAllowance = 64 * (Math.BitIncrement(1.0) - 1.0);

    private readonly decimal[] _arrivalOrder;
    private readonly double[] _arrivalOrderApprox;
    private readonly double[] _sorted;
    private int _count;
    private int _oldest;

    public RollingPriceWindow(int capacity)
    {
        _arrivalOrder = new decimal[capacity];
        _arrivalOrderApprox = new double[capacity];
        _sorted = new double[capacity];
    }

    public bool IsFull => _count == _arrivalOrder.Length;

    public void Add(decimal price)
    {
        double value = (double)price;
        int insertAt = LowerBound<double>(_sorted.AsSpan(0, _count), value);
        if (IsFull)
        {
            // Replace the evicted value in one shift of the elements between the two positions.
            int evictAt = LowerBound<double>(_sorted.AsSpan(0, _count), _arrivalOrderApprox[_oldest]);
            if (insertAt > evictAt)
            {
                insertAt--;
                Array.Copy(_sorted, evictAt + 1, _sorted, evictAt, insertAt - evictAt);
            }
            else
            {
                Array.Copy(_sorted, insertAt, _sorted, insertAt + 1, evictAt - insertAt);
            }
        }
        else
        {
            Array.Copy(_sorted, insertAt, _sorted, insertAt + 1, _count - insertAt);
            _count++;
        }

        _sorted[insertAt] = value;
        _arrivalOrder[_oldest] = price;
        _arrivalOrderApprox[_oldest] = value;
        _oldest = (_oldest + 1) % _arrivalOrder.Length;
    }

    /// <summary>
    /// True when the window is full and |price − median| &gt; <paramref name="maxZScore"/>·1.4826·MAD.
    /// A zero MAD (over half the window identical) gives no scale, so nothing counts as a spike then:
    /// flatline detection covers that regime and the jump limit still bounds the move.
    /// </summary>
    public bool IsSpike(decimal price, decimal maxZScore, out double zScore)
    {
        zScore = 0;
        if (!IsFull)
        {
            return false;
        }

        ReadOnlySpan<double> sorted = _sorted.AsSpan(0, _count);
        double median = Median(sorted);
        double mad = MedianAbsoluteDeviation(sorted, median);
        if (mad == 0)
        {
            return false;
        }

        double value = (double)price;
        double scale = (double)MadToSigma * mad;
        double limit = (double)maxZScore * scale;
        double deviation = Math.Abs(value - median);
        double magnitude = Math.Max(Math.Abs(value), Math.Max(Math.Abs(sorted[0]), Math.Abs(sorted[^1])));
        double tolerance = RoundingAllowance * (magnitude * (1 + (double)maxZScore) + limit);
        if (deviation < limit - tolerance)
        {
            return false;
        }

        if (deviation > limit + tolerance)
        {
            zScore = deviation / scale;
            return true;
        }

        return IsSpikeExactly(price, maxZScore, out zScore);
    }

    /// <summary>The same test in decimal arithmetic, for the rare tick within rounding error of the limit.</summary>
    private bool IsSpikeExactly(decimal price, decimal maxZScore, out double zScore)
    {
        zScore = 0;
        Span<decimal> sorted = _count <= 256 ? stackalloc decimal[_count] : new decimal[_count];
        _arrivalOrder.AsSpan(0, _count).CopyTo(sorted);
        sorted.Sort();
        decimal median = Median<decimal>(sorted);
        decimal scale = MadToSigma * MedianAbsoluteDeviation<decimal>(sorted, median);
        if (scale == 0)
        {
            return false;
        }

        decimal deviation = Math.Abs(price - median);
        zScore = (double)(deviation / scale);
        return deviation > maxZScore * scale;
    }

    private static T Median<T>(ReadOnlySpan<T> sorted)
        where T : INumber<T>
    {
        int half = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / (T.One + T.One);
    }

    /// <summary>
    /// Median of |x − median|. The deviations below the median grow leftwards and those above grow
    /// rightwards, so merging the two runs yields them in order without sorting.
    /// </summary>
    private static T MedianAbsoluteDeviation<T>(ReadOnlySpan<T> sorted, T median)
        where T : INumber<T>
    {
        int below = LowerBound(sorted, median) - 1;
        int above = below + 1;
        T previous = T.Zero;
        T current = T.Zero;
        for (int rank = 0; rank <= sorted.Length / 2; rank++)
        {
            previous = current;
            bool takeBelow = above >= sorted.Length
                || (below >= 0 && median - sorted[below] <= sorted[above] - median);
            current = takeBelow ? median - sorted[below--] : sorted[above++] - median;
        }

        return sorted.Length % 2 == 1 ? current : (previous + current) / (T.One + T.One);
    }

    /// <summary>First index whose value is not less than <paramref name="value"/>.</summary>
    private static int LowerBound<T>(ReadOnlySpan<T> sorted, T value)
        where T : INumber<T>
    {
        int lo = 0;
        int hi = sorted.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (sorted[mid] < value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }
}
