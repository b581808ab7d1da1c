using System.Buffers;

namespace Portal.Domain.Statistics;

/// <summary>
/// Two-sided two-sample Kolmogorov–Smirnov test.
/// </summary>
/// <remarks>
/// <para>
/// Ties: the empirical CDFs are compared only after every observation equal to the current value has been
/// consumed from both samples, so D is the correct statistic for data with ties (as in SciPy's <c>ks_2samp</c>).
/// The p-value, exact or asymptotic, is the one for continuous data (no ties). With ties the true null
/// distribution of D is stochastically smaller, so the reported p-value is conservative (too large, never
/// too small): a drift flag raised on tied data is still justified, but weak drift may be missed.
/// </para>
/// <para>
/// Exact p-values (<see cref="KsMethod.Exact"/>) enumerate the C(n+m, n) equally likely interleavings of the
/// two samples as monotone lattice paths (Hodges 1958, Ark. Mat. 3:469–486). The path is walked as a sequence
/// of draws without replacement, so every stored quantity is a probability (no overflowing binomials), and the p-value is
/// accumulated from the probability of first leaving the band |i/n − j/m| &lt; D, which keeps its relative
/// accuracy even for tiny p-values. Cost is O(D·n·m) time and O(max(n, m)) memory.
/// </para>
/// <para>
/// Asymptotic p-values use the Kolmogorov limit Q_KS(λ) with λ = (√nₑ + 0.12 + 0.11/√nₑ)·D and
/// nₑ = n·m/(n+m) (Stephens 1970; Numerical Recipes' <c>kstwo</c>; older SciPy releases of <c>ks_2samp</c>).
/// Current SciPy evaluates the one-sample distribution at round(nₑ) instead, so values agree only to the
/// accuracy of the approximation (about 1% relative at nₑ ≈ 50, far better at large nₑ).
/// </para>
/// </remarks>
public static class KolmogorovSmirnov
{
    /// <summary>
    /// Without an explicit method the p-value is exact when n·m is below this limit and asymptotic otherwise
    /// (the same size rule as R's <c>ks.test</c>).
    /// </summary>
    public const long ExactSizeProductLimit = 10_000;

    /// <summary>Runs the test on unsorted samples; both are copied to pooled buffers and sorted.</summary>
    /// <param name="method">Forces the p-value method; <c>null</c> chooses by <see cref="ExactSizeProductLimit"/>.
    /// A forced exact p-value costs O(D·n·m).</param>
    /// <exception cref="ArgumentException">A sample is empty or contains NaN.</exception>
    public static KsResult TwoSample(ReadOnlySpan<double> a, ReadOnlySpan<double> b, KsMethod? method = null)
    {
        EnsureNotEmpty(a, nameof(a));
        EnsureNotEmpty(b, nameof(b));
        double[] bufferA = ArrayPool<double>.Shared.Rent(a.Length);
        double[] bufferB = ArrayPool<double>.Shared.Rent(b.Length);
        try
        {
            Span<double> sortedA = bufferA.AsSpan(0, a.Length);
            Span<double> sortedB = bufferB.AsSpan(0, b.Length);
            a.CopyTo(sortedA);
            b.CopyTo(sortedB);
            sortedA.Sort();
            sortedB.Sort();

            // Sorting moves NaN to the front.
            EnsureNoNaNAtFront(sortedA, nameof(a));
            EnsureNoNaNAtFront(sortedB, nameof(b));
            return TwoSampleOfValidSorted(sortedA, sortedB, method);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(bufferA);
            ArrayPool<double>.Shared.Return(bufferB);
        }
    }

    /// <summary>Runs the test on samples already sorted ascending: O(n + m), no allocation for the statistic.</summary>
    /// <param name="method">Forces the p-value method; <c>null</c> chooses by <see cref="ExactSizeProductLimit"/>.
    /// A forced exact p-value costs O(D·n·m).</param>
    /// <exception cref="ArgumentException">A sample is empty, not sorted ascending, or contains NaN.</exception>
    public static KsResult TwoSampleSorted(ReadOnlySpan<double> sortedA, ReadOnlySpan<double> sortedB, KsMethod? method = null)
    {
        EnsureSortedWithoutNaN(sortedA, nameof(sortedA));
        EnsureSortedWithoutNaN(sortedB, nameof(sortedB));
        return TwoSampleOfValidSorted(sortedA, sortedB, method);
    }

    private static KsResult TwoSampleOfValidSorted(ReadOnlySpan<double> sortedA, ReadOnlySpan<double> sortedB, KsMethod? method)
    {
        int n = sortedA.Length;
        int m = sortedB.Length;
        long sizeProduct = (long)n * m;
        long maxGap = MaxScaledEcdfGap(sortedA, sortedB);
        double d = (double)maxGap / sizeProduct;

        KsMethod chosen = method ?? (sizeProduct < ExactSizeProductLimit ? KsMethod.Exact : KsMethod.Asymptotic);
        double pValue = chosen switch
        {
            KsMethod.Exact => ExactPValue(n, m, maxGap),
            KsMethod.Asymptotic => AsymptoticPValue(n, m, d),
            _ => throw new ArgumentOutOfRangeException(nameof(method), method, "Unknown KS method."),
        };
        return new KsResult(d, pValue, chosen);
    }

    /// <summary>
    /// max |i·m − j·n| over the points where both samples have consumed all values ≤ x; D is this divided by n·m.
    /// Integer arithmetic makes D exact and lets the exact p-value compare lattice points without rounding.
    /// </summary>
    private static long MaxScaledEcdfGap(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        int n = a.Length;
        int m = b.Length;
        int i = 0;
        int j = 0;
        long maxGap = 0;
        while (i < n && j < m)
        {
            double x = Math.Min(a[i], b[j]);
            while (i < n && a[i] == x)
            {
                i++;
            }

            while (j < m && b[j] == x)
            {
                j++;
            }

            long gap = Math.Abs((long)i * m - (long)j * n);
            if (gap > maxGap)
            {
                maxGap = gap;
            }
        }

        // Once one sample is exhausted the gap shrinks monotonically to 0, so the maximum is already known.
        return maxGap;
    }

    /// <summary>
    /// P(max |i·m − j·n| ≥ h) over a uniformly random lattice path from (0,0) to (n,m), where i counts
    /// observations from one sample and j from the other.
    /// </summary>
    private static double ExactPValue(int n, int m, long h)
    {
        if (h == 0)
        {
            return 1.0;
        }

        // Rows follow the smaller sample. Then h ≥ n (the first step alone moves the gap by n or m ≥ n),
        // while every row holds a cell with gap ≤ n/2, so no row's interior band is empty.
        if (n > m)
        {
            (n, m) = (m, n);
        }

        long total = (long)n + m;
        double[] buffer = ArrayPool<double>.Shared.Rent(m + 1);
        try
        {
            // reach[j] = probability that the path visits (i, j) without having touched the boundary;
            // cells right of every band seen so far are still zero, which is what the recurrence needs.
            Span<double> reach = buffer.AsSpan(0, m + 1);
            reach.Clear();
            double outside = 0;
            (int lo, int hi) = InteriorBand(0, n, m, h);
            for (int i = 0; i <= n; i++)
            {
                (int nextLo, int nextHi) = i < n ? InteriorBand(i + 1, n, m, h) : (lo, hi);
                double left = 0;
                for (int j = lo; j <= hi; j++)
                {
                    double here;
                    if (i == 0 && j == 0)
                    {
                        here = 1.0;
                    }
                    else
                    {
                        // Step from (i−1, j): one of the n−i+1 remaining row-sample items is drawn next.
                        here = i > 0 ? reach[j] * (n - i + 1) / (total - (i - 1) - j) : 0.0;
                        // Step from (i, j−1): one of the m−j+1 remaining column-sample items is drawn next.
                        if (j > lo)
                        {
                            here += left * (m - j + 1) / (total - i - (j - 1));
                        }
                    }

                    reach[j] = here;
                    left = here;
                    if (i < n && j < nextLo)
                    {
                        outside += here * (n - i) / (total - i - j);
                    }
                }

                if (hi < m)
                {
                    outside += left * (m - hi) / (total - i - hi);
                }

                (lo, hi) = (nextLo, nextHi);
            }

            return Math.Min(outside, 1.0);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(buffer);
        }
    }

    /// <summary>Columns j of row i with |i·m − j·n| &lt; h; both ends are non-decreasing in i.</summary>
    private static (int Lo, int Hi) InteriorBand(int i, int n, int m, long h)
    {
        long below = (long)i * m - h;
        int lo = below < 0 ? 0 : (int)(below / n + 1);
        long above = (long)i * m + h;
        int hi = (int)Math.Min(m, (above - 1) / n);
        return (lo, hi);
    }

    private static double AsymptoticPValue(int n, int m, double d)
    {
        double effectiveN = (double)n * m / ((double)n + m);
        double sqrtEffectiveN = Math.Sqrt(effectiveN);
        return KolmogorovDistribution.Survival((sqrtEffectiveN + 0.12 + 0.11 / sqrtEffectiveN) * d);
    }

    internal static void EnsureSortedWithoutNaN(ReadOnlySpan<double> sample, string paramName)
    {
        EnsureNotEmpty(sample, paramName);
        double previous = double.NegativeInfinity;
        foreach (double x in sample)
        {
            // The negated comparison also rejects NaN, which compares false with everything.
            if (!(x >= previous))
            {
                throw new ArgumentException("Sample must be sorted ascending and must not contain NaN.", paramName);
            }

            previous = x;
        }
    }

    internal static void EnsureNotEmpty(ReadOnlySpan<double> sample, string paramName)
    {
        if (sample.IsEmpty)
        {
            throw new ArgumentException("Sample must not be empty.", paramName);
        }
    }

    private static void EnsureNoNaNAtFront(ReadOnlySpan<double> sorted, string paramName)
    {
        if (double.IsNaN(sorted[0]))
        {
            throw new ArgumentException("Sample must not contain NaN.", paramName);
        }
    }
}
