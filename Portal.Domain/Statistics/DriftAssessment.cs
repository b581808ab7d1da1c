namespace Portal.Domain.Statistics;

/// <summary>Thresholds for <see cref="DriftAssessment"/>.</summary>
/// <param name="Alpha">Family-wise significance level across all features of one assessment.</param>
/// <param name="MinMaterialD">KS distance at or above which a shift is large enough to matter.</param>
/// <param name="MinMaterialPsi">PSI at or above which a shift is large enough to matter (rules of thumb in
/// credit scoring call 0.1–0.25 moderate and above 0.25 significant).</param>
public sealed record DriftThresholds(double Alpha = 0.01, double MinMaterialD = 0.1, double MinMaterialPsi = 0.2)
{
    /// <summary>α = 0.01, D ≥ 0.1, PSI ≥ 0.2.</summary>
    public static DriftThresholds Default { get; } = new();
}

/// <summary>Drift measurements of one feature, baseline versus current.</summary>
public readonly record struct FeatureDriftInput(string Feature, KsResult Ks, double Psi)
{
    /// <summary>Computes KS and PSI for one feature from two sorted samples (the nightly job's hot path).</summary>
    public static FeatureDriftInput Measure(
        string feature,
        ReadOnlySpan<double> sortedBaseline,
        ReadOnlySpan<double> sortedCurrent,
        int psiBins = 10) =>
        new(
            feature,
            KolmogorovSmirnov.TwoSampleSorted(sortedBaseline, sortedCurrent),
            PopulationStabilityIndex.Compute(sortedBaseline, sortedCurrent, psiBins));
}

/// <summary>Drift decision for one feature.</summary>
/// <param name="Significant">KS p-value at or below the Bonferroni-corrected level.</param>
/// <param name="Material">D or PSI at or above its materiality threshold.</param>
/// <param name="Drifted">Significant and material.</param>
public readonly record struct FeatureDriftVerdict(
    string Feature,
    bool Drifted,
    bool Significant,
    bool Material,
    KsResult Ks,
    double Psi);

/// <summary>Outcome of one drift assessment.</summary>
/// <param name="FeatureAlpha">Per-feature significance level after Bonferroni correction (α / feature count).</param>
public sealed record DriftReport(double FeatureAlpha, IReadOnlyList<FeatureDriftVerdict> Features)
{
    public bool AnyDrift
    {
        get
        {
            foreach (FeatureDriftVerdict verdict in Features)
            {
                if (verdict.Drifted)
                {
                    return true;
                }
            }

            return false;
        }
    }
}

/// <summary>
/// Decides per-feature drift. A feature drifts only when the KS test is significant after Bonferroni
/// correction across features AND the shift is material: with 100,000 observations per side, KS rejects for
/// differences far too small to matter (D ≈ 0.0073 is already significant at 1%), so significance alone
/// would flag every feature every night.
/// </summary>
public static class DriftAssessment
{
    public static DriftReport Assess(ReadOnlySpan<FeatureDriftInput> features, DriftThresholds thresholds)
    {
        ArgumentNullException.ThrowIfNull(thresholds);
        if (!(thresholds.Alpha > 0 && thresholds.Alpha < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(thresholds), thresholds.Alpha, "Alpha must lie in (0, 1).");
        }

        if (!(thresholds.MinMaterialD >= 0) || !(thresholds.MinMaterialPsi >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(thresholds), "Materiality thresholds must be non-negative.");
        }

        double featureAlpha = features.IsEmpty ? thresholds.Alpha : thresholds.Alpha / features.Length;
        var verdicts = new FeatureDriftVerdict[features.Length];
        for (int k = 0; k < features.Length; k++)
        {
            FeatureDriftInput input = features[k];
            bool significant = input.Ks.PValue <= featureAlpha;
            bool material = input.Ks.D >= thresholds.MinMaterialD || input.Psi >= thresholds.MinMaterialPsi;
            verdicts[k] = new FeatureDriftVerdict(input.Feature, significant && material, significant, material, input.Ks, input.Psi);
        }

        return new DriftReport(featureAlpha, verdicts);
    }
}
