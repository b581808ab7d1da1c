namespace Portal.Domain.Statistics;

/// <summary>One distribution to compare: a feature, or the model's prediction or confidence.</summary>
/// <param name="Baseline">Baseline values, any order; sorted in place by <see cref="DriftComputation.Run"/>.</param>
/// <param name="Current">Current values, any order; sorted in place by <see cref="DriftComputation.Run"/>.</param>
public sealed record SampleColumn(string Name, double[] Baseline, double[] Current);

/// <summary>Both empirical CDFs evaluated at the same points, for an overlay chart.</summary>
public sealed record EcdfOverlay(double[] X, double[] Baseline, double[] Current)
{
    /// <summary>
    /// <paramref name="points"/> evenly spaced points from the lower to the upper 0.5 % quantile of either sample:
    /// the range that shows both distributions without a single outlier squeezing them into one corner.
    /// </summary>
    public static EcdfOverlay Of(ReadOnlySpan<double> sortedBaseline, ReadOnlySpan<double> sortedCurrent, int points)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(points, 2);
        double lo = Math.Min(Quantile(sortedBaseline, 0.005), Quantile(sortedCurrent, 0.005));
        double hi = Math.Max(Quantile(sortedBaseline, 0.995), Quantile(sortedCurrent, 0.995));
        var x = new double[points];
        var baseline = new double[points];
        var current = new double[points];
        for (int k = 0; k < points; k++)
        {
            x[k] = k == points - 1 ? hi : lo + (hi - lo) * k / (points - 1);
            baseline[k] = (double)PopulationStabilityIndex.CountAtOrBelow(sortedBaseline, x[k]) / sortedBaseline.Length;
            current[k] = (double)PopulationStabilityIndex.CountAtOrBelow(sortedCurrent, x[k]) / sortedCurrent.Length;
        }

        return new EcdfOverlay(x, baseline, current);
    }

    private static double Quantile(ReadOnlySpan<double> sorted, double q) => sorted[(int)Math.Floor(q * (sorted.Length - 1))];
}

/// <summary>The verdicts of one drift check and, in the same order, each column's ECDF overlay.</summary>
public sealed record DriftComputationResult(DriftReport Report, IReadOnlyList<EcdfOverlay> Overlays);

/// <summary>
/// The nightly drift check's computation: per column, sort both samples, then two-sample KS, PSI over baseline
/// deciles and an ECDF overlay; then the Bonferroni-corrected, materiality-gated verdicts across all columns.
/// Columns are independent, so they run in parallel; sorting dominates (O(n log n) per column).
/// </summary>
public static class DriftComputation
{
    public const int PsiBins = 10;
    public const int OverlayPoints = 41;

    public static DriftComputationResult Run(IReadOnlyList<SampleColumn> columns, DriftThresholds thresholds)
    {
        ArgumentNullException.ThrowIfNull(columns);
        var inputs = new FeatureDriftInput[columns.Count];
        var overlays = new EcdfOverlay[columns.Count];
        Parallel.For(0, columns.Count, k =>
        {
            SampleColumn column = columns[k];
            Array.Sort(column.Baseline);
            Array.Sort(column.Current);
            inputs[k] = FeatureDriftInput.Measure(column.Name, column.Baseline, column.Current, PsiBins);
            overlays[k] = EcdfOverlay.Of(column.Baseline, column.Current, OverlayPoints);
        });
        return new DriftComputationResult(DriftAssessment.Assess(inputs, thresholds), overlays);
    }
}
