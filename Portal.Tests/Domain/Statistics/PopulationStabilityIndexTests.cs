using Portal.Domain.Statistics;

namespace Portal.Tests.Domain.Statistics;

public class PopulationStabilityIndexTests
{
    private static readonly double[] OneToTen = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

    [Fact]
    public void IdenticalDistribution_IsZero()
    {
        double[] baseline = Enumerable.Range(1, 1000).Select(i => (double)i).ToArray();

        Assert.Equal(0.0, PopulationStabilityIndex.Compute(baseline, baseline), 15);
    }

    [Fact]
    public void TwoBins_HandComputed()
    {
        // Hand computation: bins = 2 puts the edge at the 5th of 10 baseline values, so the bins are
        // (−∞, 5] and (5, ∞) with baseline shares 0.5 / 0.5. The current sample has 8 of 10 values ≤ 5:
        // PSI = (0.8 − 0.5)·ln(0.8/0.5) + (0.2 − 0.5)·ln(0.2/0.5) = 0.3·ln 4 ≈ 0.415888.
        double[] current = [1, 1, 2, 3, 4, 5, 5, 5, 6, 9];

        double psi = PopulationStabilityIndex.Compute(OneToTen, current, bins: 2);

        Assert.Equal(0.3 * Math.Log(4), psi, 12);
    }

    [Fact]
    public void EmptyBin_UsesTheDocumentedFloorInsteadOfInfinity()
    {
        // Hand computation: every current value lands in (5, ∞), leaving (−∞, 5] empty. Its share is floored
        // at ε = 1e-4: PSI = (ε − 0.5)·ln(ε/0.5) + (1 − 0.5)·ln(1/0.5) ≈ 4.604.
        const double epsilon = PopulationStabilityIndex.EmptyBinProportion;
        double expected = (epsilon - 0.5) * Math.Log(epsilon / 0.5) + 0.5 * Math.Log(2);

        double psi = PopulationStabilityIndex.Compute(OneToTen, [20, 30, 40], bins: 2);

        Assert.Equal(1e-4, epsilon);
        Assert.Equal(expected, psi, 12);
        Assert.True(double.IsFinite(psi));
    }

    [Fact]
    public void Deciles_ShiftOfOneBinWidth_HandComputed()
    {
        // Hand computation: baseline 1..100 gives decile edges 10, 20, …, 90. Current 11..110 leaves (−∞, 10]
        // empty, puts 10 values in each of (10, 20] … (80, 90], and 20 in (90, ∞). Only the first and last
        // bins contribute: PSI = (ε − 0.1)·ln(ε/0.1) + (0.2 − 0.1)·ln(0.2/0.1).
        double[] baseline = Enumerable.Range(1, 100).Select(i => (double)i).ToArray();
        double[] current = Enumerable.Range(11, 100).Select(i => (double)i).ToArray();
        const double epsilon = PopulationStabilityIndex.EmptyBinProportion;
        double expected = (epsilon - 0.1) * Math.Log(epsilon / 0.1) + 0.1 * Math.Log(2);

        Assert.Equal(expected, PopulationStabilityIndex.Compute(baseline, current), 12);
    }

    [Fact]
    public void TiedBaseline_MergesEqualEdges()
    {
        // All baseline values equal: the nine decile edges collapse into one, leaving (−∞, 5] and (5, ∞).
        // The same data again is perfectly stable; values above 5 hit the empty upper bin.
        double[] baseline = Enumerable.Repeat(5.0, 50).ToArray();

        Assert.Equal(0.0, PopulationStabilityIndex.Compute(baseline, [5.0, 5.0, 5.0]), 15);
        Assert.True(PopulationStabilityIndex.Compute(baseline, [5.0, 6.0]) > 1);
    }

    [Fact]
    public void RejectsInvalidInput()
    {
        Assert.Throws<ArgumentException>(() => PopulationStabilityIndex.Compute([2.0, 1.0], [1.0]));
        Assert.Throws<ArgumentException>(() => PopulationStabilityIndex.Compute(OneToTen, []));
        Assert.Throws<ArgumentException>(() => PopulationStabilityIndex.Compute(OneToTen, [double.NaN]));
        Assert.Throws<ArgumentOutOfRangeException>(() => PopulationStabilityIndex.Compute(OneToTen, [1.0], bins: 1));
    }
}
