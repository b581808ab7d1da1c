using Portal.Domain.Statistics;

namespace Portal.Tests.Domain.Statistics;

public class DriftComputationTests
{
    [Fact]
    public void EcdfOverlay_HandComputed()
    {
        // Hand computation: the 0.5 % quantiles are the minima (1 and 2), the 99.5 % quantiles the second largest
        // values (index floor(0.995·3) = 2: 3 and 4), so the grid is 1, 2, 3, 4. Baseline 1..4 gives 1/4 … 4/4;
        // current 2..5 gives 0, 1/4, 2/4, 3/4.
        EcdfOverlay overlay = EcdfOverlay.Of([1, 2, 3, 4], [2, 3, 4, 5], points: 4);

        Assert.Equal([1.0, 2.0, 3.0, 4.0], overlay.X);
        Assert.Equal([0.25, 0.5, 0.75, 1.0], overlay.Baseline);
        Assert.Equal([0.0, 0.25, 0.5, 0.75], overlay.Current);
    }

    [Fact]
    public void Run_SortsEachColumn_FlagsOnlyTheShiftedOne_AndMatchesTheSequentialMeasurement()
    {
        // Seeded: column "shifted" moves by half a standard deviation, "resampled" is drawn from its own baseline.
        var random = new Random(7);
        double[] Normals(int n, double mean) => Enumerable.Range(0, n)
            .Select(_ => mean + Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble())).ToArray();
        double[] baselineA = Normals(4_000, 0);
        double[] currentA = Normals(4_000, 0.5);
        double[] baselineB = Normals(4_000, 0);
        double[] currentB = Enumerable.Range(0, 4_000).Select(_ => baselineB[random.Next(baselineB.Length)]).ToArray();
        double[] sortedA = baselineA.Order().ToArray(), sortedCurrentA = currentA.Order().ToArray();

        DriftComputationResult result = DriftComputation.Run(
            [new SampleColumn("shifted", baselineA, currentA), new SampleColumn("resampled", baselineB, currentB)], DriftThresholds.Default);

        Assert.Equal(sortedA, baselineA); // sorted in place
        Assert.Equal(["shifted", "resampled"], result.Report.Features.Select(f => f.Feature));
        Assert.True(result.Report.Features[0].Drifted);
        Assert.False(result.Report.Features[1].Drifted);
        Assert.Equal(0.01 / 2, result.Report.FeatureAlpha, 15);
        FeatureDriftInput sequential = FeatureDriftInput.Measure("shifted", sortedA, sortedCurrentA);
        Assert.Equal(sequential.Ks, result.Report.Features[0].Ks);
        Assert.Equal(sequential.Psi, result.Report.Features[0].Psi);
        Assert.Equal(DriftComputation.OverlayPoints, result.Overlays[0].X.Length);
        Assert.Equal(result.Report.Features[0].Ks.D, result.Overlays[0].Baseline.Zip(result.Overlays[0].Current, (b, c) => Math.Abs(b - c)).Max(), 0.05);
    }
}
