namespace Portal.Domain.Statistics;

/// <summary>
/// Population Stability Index over bins whose edges are quantiles of the baseline:
/// PSI = Σ_k (c_k − b_k)·ln(c_k / b_k), with b_k and c_k the baseline and current proportions in bin k.
/// </summary>
/// <remarks>
/// Bins are right-closed: (−∞, e₁], (e₁, e₂], …, (e_{k−1}, +∞), with e_k the baseline value at rank ⌈k·n/bins⌉.
/// Baseline proportions are counted, not assumed to be 1/bins, so ties are handled: equal edges are merged,
/// and a heavily tied baseline simply yields fewer bins.
/// </remarks>
public static class PopulationStabilityIndex
{
    /// <summary>
    /// Floor applied to every bin proportion so an empty bin gives a large but finite term instead of ln 0.
    /// A current proportion of 0.1 against an empty baseline bin contributes (0.1 − 1e−4)·ln(0.1/1e−4) ≈ 0.69,
    /// far above any materiality threshold, which is the intended reading of "values never seen before".
    /// </summary>
    public const double EmptyBinProportion = 1e-4;

    // Enough for any sensible bin count without touching the heap.
    private const int MaxStackBins = 128;

    /// <param name="sortedBaseline">Reference sample, sorted ascending, without NaN.</param>
    /// <param name="current">Sample to compare, any order, without NaN.</param>
    /// <param name="bins">Number of baseline quantile bins (10 = deciles).</param>
    /// <exception cref="ArgumentException">A sample is empty, the baseline is unsorted, or NaN is present.</exception>
    public static double Compute(ReadOnlySpan<double> sortedBaseline, ReadOnlySpan<double> current, int bins = 10)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 2);
        KolmogorovSmirnov.EnsureSortedWithoutNaN(sortedBaseline, nameof(sortedBaseline));
        KolmogorovSmirnov.EnsureNotEmpty(current, nameof(current));

        Span<double> edges = bins <= MaxStackBins ? stackalloc double[bins - 1] : new double[bins - 1];
        edges = edges[..QuantileEdges(sortedBaseline, bins, edges)];
        int binCount = edges.Length + 1;

        // Stack memory from stackalloc is zeroed, as counting requires.
        Span<int> counts = bins <= MaxStackBins ? stackalloc int[2 * bins] : new int[2 * bins];
        Span<int> baselineCounts = counts[..binCount];
        Span<int> currentCounts = counts.Slice(bins, binCount);

        int below = 0;
        for (int k = 0; k < edges.Length; k++)
        {
            int atOrBelowEdge = CountAtOrBelow(sortedBaseline, edges[k]);
            baselineCounts[k] = atOrBelowEdge - below;
            below = atOrBelowEdge;
        }

        baselineCounts[edges.Length] = sortedBaseline.Length - below;

        foreach (double x in current)
        {
            if (double.IsNaN(x))
            {
                throw new ArgumentException("Sample must not contain NaN.", nameof(current));
            }

            currentCounts[BinOf(edges, x)]++;
        }

        double baselineTotal = sortedBaseline.Length;
        double currentTotal = current.Length;
        double psi = 0;
        for (int k = 0; k < binCount; k++)
        {
            double baselineShare = Math.Max(baselineCounts[k] / baselineTotal, EmptyBinProportion);
            double currentShare = Math.Max(currentCounts[k] / currentTotal, EmptyBinProportion);
            psi += (currentShare - baselineShare) * Math.Log(currentShare / baselineShare);
        }

        return psi;
    }

    /// <summary>Writes the strictly increasing quantile edges and returns how many there are.</summary>
    private static int QuantileEdges(ReadOnlySpan<double> sortedBaseline, int bins, Span<double> edges)
    {
        long n = sortedBaseline.Length;
        int count = 0;
        for (int k = 1; k < bins; k++)
        {
            // ⌈k·n/bins⌉ ≥ 1 because n ≥ 1 and k ≥ 1.
            long rank = (k * n + bins - 1) / bins;
            double edge = sortedBaseline[(int)(rank - 1)];
            if (count == 0 || edge > edges[count - 1])
            {
                edges[count++] = edge;
            }
        }

        return count;
    }

    /// <summary>How many values of an ascending sample are at or below <paramref name="value"/> (binary search).</summary>
    internal static int CountAtOrBelow(ReadOnlySpan<double> sorted, double value)
    {
        int lo = 0;
        int hi = sorted.Length;
        while (lo < hi)
        {
            int mid = (int)((uint)(lo + hi) >> 1);
            if (sorted[mid] <= value)
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

    /// <summary>Index of the right-closed bin holding <paramref name="x"/>: the number of edges below it.</summary>
    private static int BinOf(ReadOnlySpan<double> edges, double x)
    {
        int lo = 0;
        int hi = edges.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (edges[mid] < x)
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
