using Portal.Domain.Statistics;

namespace Portal.Tests.Domain.Statistics;

public class DriftAssessmentTests
{
    [Fact]
    public void ShiftedNormal_HalfStandardDeviation_Drifts()
    {
        // Seeded N(0,1) against N(0.5,1), 5,000 each. Population KS distance is Φ(0.25) − Φ(−0.25) ≈ 0.197,
        // so both significance and materiality are expected by a wide margin.
        double[] baseline = SortedNormalSample(new Random(11), 5_000, mean: 0);
        double[] current = SortedNormalSample(new Random(12), 5_000, mean: 0.5);

        DriftReport report = DriftAssessment.Assess(
            [FeatureDriftInput.Measure("spread_bps", baseline, current)], DriftThresholds.Default);

        FeatureDriftVerdict verdict = Assert.Single(report.Features);
        Assert.True(verdict.Drifted);
        Assert.InRange(verdict.Ks.D, 0.15, 0.25);
        Assert.True(verdict.Ks.PValue < 1e-30);
        Assert.True(report.AnyDrift);
    }

    [Fact]
    public void ResampleOfBaseline_DoesNotDrift()
    {
        var random = new Random(21);
        double[] baseline = SortedNormalSample(random, 5_000, mean: 0);
        double[] resample = Enumerable.Range(0, 5_000).Select(_ => baseline[random.Next(baseline.Length)]).ToArray();
        Array.Sort(resample);

        DriftReport report = DriftAssessment.Assess(
            [FeatureDriftInput.Measure("spread_bps", baseline, resample)], DriftThresholds.Default);

        FeatureDriftVerdict verdict = Assert.Single(report.Features);
        Assert.False(verdict.Drifted);
        Assert.False(verdict.Material);
        Assert.False(report.AnyDrift);
    }

    [Fact]
    public void SignificanceIsBonferroniCorrectedAcrossFeatures()
    {
        // Five features at α = 0.01: each is judged at 0.002, inclusive.
        FeatureDriftInput[] features =
        [
            new("at_corrected_alpha", new KsResult(0.3, 0.002, KsMethod.Asymptotic), 0.0),
            new("below_alpha_but_not_corrected", new KsResult(0.3, 0.005, KsMethod.Asymptotic), 0.0),
            new("quiet_1", new KsResult(0.0, 1.0, KsMethod.Asymptotic), 0.0),
            new("quiet_2", new KsResult(0.0, 1.0, KsMethod.Asymptotic), 0.0),
            new("quiet_3", new KsResult(0.0, 1.0, KsMethod.Asymptotic), 0.0),
        ];

        DriftReport report = DriftAssessment.Assess(features, DriftThresholds.Default);

        Assert.Equal(0.002, report.FeatureAlpha, 15);
        Assert.True(report.Features[0].Drifted);
        Assert.False(report.Features[1].Significant);
        Assert.False(report.Features[1].Drifted);
    }

    [Theory]
    [InlineData(0.1, 0.0, true)]    // D exactly at the threshold is material
    [InlineData(0.0999, 0.0, false)]
    [InlineData(0.02, 0.2, true)]   // PSI exactly at the threshold is material
    [InlineData(0.02, 0.1999, false)]
    public void SignificantButImmaterialShiftsDoNotDrift(double d, double psi, bool expectedDrift)
    {
        // p = 1e-12 is what large samples produce for tiny shifts; only materiality separates them.
        FeatureDriftInput feature = new("f", new KsResult(d, 1e-12, KsMethod.Asymptotic), psi);

        FeatureDriftVerdict verdict = Assert.Single(DriftAssessment.Assess([feature], DriftThresholds.Default).Features);

        Assert.True(verdict.Significant);
        Assert.Equal(expectedDrift, verdict.Material);
        Assert.Equal(expectedDrift, verdict.Drifted);
    }

    [Fact]
    public void ThresholdsAreConfigurable()
    {
        FeatureDriftInput feature = new("f", new KsResult(0.05, 0.04, KsMethod.Exact), 0.0);
        var lenient = new DriftThresholds(Alpha: 0.05, MinMaterialD: 0.05);

        Assert.False(DriftAssessment.Assess([feature], DriftThresholds.Default).AnyDrift);
        Assert.True(DriftAssessment.Assess([feature], lenient).AnyDrift);
    }

    [Fact]
    public void RejectsNonsensicalThresholds()
    {
        FeatureDriftInput[] none = [];

        Assert.Throws<ArgumentOutOfRangeException>(() => DriftAssessment.Assess(none, new DriftThresholds(Alpha: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => DriftAssessment.Assess(none, new DriftThresholds(Alpha: 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => DriftAssessment.Assess(none, new DriftThresholds(MinMaterialD: -0.1)));
    }

    /// <summary>Box–Muller normals from a seeded <see cref="Random"/> (deterministic across runs).</summary>
    private static double[] SortedNormalSample(Random random, int count, double mean)
    {
        double[] sample = new double[count];
        for (int i = 0; i < count; i++)
        {
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            sample[i] = mean + Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        }

        Array.Sort(sample);
        return sample;
    }
}
