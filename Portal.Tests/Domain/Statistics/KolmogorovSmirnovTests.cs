using Portal.Domain.Statistics;

namespace Portal.Tests.Domain.Statistics;

public class KolmogorovSmirnovTests
{
    // SciPy's own ks_2samp reference cases, scipy/stats/tests/test_stats.py, class TestKSTwoSamples
    // (method named in each comment). SciPy compares with assert_array_almost_equal, i.e. 6 decimals;
    // we hold ourselves to the same or tighter.
    private const int SciPyDecimals = 6;

    [Fact]
    public void SingleObservationEach_DIsOne_PIsOne()
    {
        // TestKSTwoSamples.testSmall: ks_2samp([0], [1]) two-sided → (1.0, 1.0).
        KsResult result = KolmogorovSmirnov.TwoSample([0.0], [1.0]);

        Assert.Equal(1.0, result.D);
        Assert.Equal(1.0, result.PValue, SciPyDecimals);
        Assert.Equal(KsMethod.Exact, result.Method);
    }

    [Theory]
    // TestKSTwoSamples.testTwoVsThree: data1 ± 0.01 against [1, 2, 3], two-sided.
    [InlineData(new[] { 1.01, 2.01 }, new[] { 1.0, 2.0, 3.0 }, 1.0 / 3, 1.0)]
    [InlineData(new[] { 0.99, 1.99 }, new[] { 1.0, 2.0, 3.0 }, 2.0 / 3, 0.6)]
    // TestKSTwoSamples.testTwoVsFour: data1 ± 0.01 against [1, 2, 3, 4], two-sided.
    [InlineData(new[] { 1.01, 2.01 }, new[] { 1.0, 2.0, 3.0, 4.0 }, 2.0 / 4, 14.0 / 15)]
    [InlineData(new[] { 0.99, 1.99 }, new[] { 1.0, 2.0, 3.0, 4.0 }, 3.0 / 4, 6.0 / 15)]
    // TestKSTwoSamples.testEqualSizes: [1, 2, 3] against itself + 1, two-sided.
    [InlineData(new[] { 1.0, 2.0, 3.0 }, new[] { 2.0, 3.0, 4.0 }, 1.0 / 3, 1.0)]
    public void SmallSamples_MatchSciPyExactPValues(double[] a, double[] b, double expectedD, double expectedP)
    {
        KsResult result = KolmogorovSmirnov.TwoSample(a, b);

        Assert.Equal(expectedD, result.D, 12);
        Assert.Equal(expectedP, result.PValue, SciPyDecimals);
        Assert.Equal(KsMethod.Exact, result.Method);
    }

    [Fact]
    public void DisjointSamples_DIsOne_ExactPCountsTheTwoSeparatedOrderings()
    {
        // Hand enumeration: of the C(6,3) = 20 equally likely interleavings of two samples of 3, only
        // "all a before all b" and "all b before all a" reach D = 1, so p = 2/20 = 0.1.
        KsResult result = KolmogorovSmirnov.TwoSample([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]);

        Assert.Equal(1.0, result.D);
        Assert.Equal(0.1, result.PValue, 14);
    }

    [Fact]
    public void DisjointLargerSamples_TinyExactPValueKeepsRelativeAccuracy()
    {
        // Same argument as above with 40 and 50 observations: p = 2 / C(90, 40). C(90, 40) is built here as a
        // product of ratios so the test does not share code with the implementation.
        double combinations = 1;
        for (int k = 1; k <= 40; k++)
        {
            combinations = combinations * (50 + k) / k;
        }

        double[] a = Enumerable.Range(0, 40).Select(i => (double)i).ToArray();
        double[] b = Enumerable.Range(100, 50).Select(i => (double)i).ToArray();

        KsResult result = KolmogorovSmirnov.TwoSample(a, b);

        Assert.Equal(1.0, result.D);
        Assert.Equal(2 / combinations, result.PValue, 2 / combinations * 1e-12);
    }

    [Fact]
    public void IdenticalSamples_DIsZero_PIsOne()
    {
        double[] sample = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];

        KsResult exact = KolmogorovSmirnov.TwoSample(sample, sample, KsMethod.Exact);
        KsResult asymptotic = KolmogorovSmirnov.TwoSample(sample, sample, KsMethod.Asymptotic);

        Assert.Equal(new KsResult(0.0, 1.0, KsMethod.Exact), exact);
        Assert.Equal(new KsResult(0.0, 1.0, KsMethod.Asymptotic), asymptotic);
    }

    [Fact]
    public void Ties_EcdfsAreComparedOnlyAfterEveryEqualValueIsConsumed()
    {
        // Hand computation: at x = 1, 2, 3, 4 the ECDFs are (1/4, 0), (3/4, 3/4), (1, 3/4), (1, 1),
        // so D = 1/4. Stopping between the tied 2s of a and those of b would wrongly see 3/4 − 0.
        KsResult result = KolmogorovSmirnov.TwoSample([1.0, 2.0, 2.0, 3.0], [2.0, 2.0, 2.0, 4.0]);

        Assert.Equal(0.25, result.D);
    }

    [Fact]
    public void RepeatedValues_MatchSciPy()
    {
        // TestKSTwoSamples.testRepeatedValues (two-sided). The p-values are the no-ties exact values, which is
        // what SciPy reports too; with ties they are conservative.
        double[] x2233 = [.. Repeat(2, 3), .. Repeat(3, 4), .. Repeat(5, 5), .. Repeat(6, 4)];
        double[] x3344 = x2233.Select(v => v + 1).ToArray();
        double[] x2356 = [.. Repeat(2, 3), .. Repeat(3, 4), .. Repeat(5, 10), .. Repeat(6, 4)];
        double[] x3467 = [.. Repeat(3, 10), .. Repeat(4, 2), .. Repeat(6, 10), .. Repeat(7, 4)];

        KsResult first = KolmogorovSmirnov.TwoSample(x2233, x3344);
        KsResult second = KolmogorovSmirnov.TwoSample(x2356, x3467);

        Assert.Equal(5.0 / 16, first.D, 12);
        Assert.Equal(0.4262934613454952, first.PValue, SciPyDecimals);
        Assert.Equal(190.0 / 21 / 26, second.D, 12);
        Assert.Equal(0.0919245790168125, second.PValue, SciPyDecimals);
    }

    [Fact]
    public void HundredVersusHundred_ForcedExact_MatchesSciPy()
    {
        // TestKSTwoSamples.test100_100: x = linspace(1, 100, 100) against x + 2 + 0.1 and x + 2 − 0.1.
        // n·m = 10,000 is not below the automatic exact limit, so exact is requested explicitly.
        double[] x = LinSpace(1, 100, 100);

        KsResult plus = KolmogorovSmirnov.TwoSample(x, x.Select(v => v + 2 + 0.1).ToArray(), KsMethod.Exact);
        KsResult minus = KolmogorovSmirnov.TwoSample(x, x.Select(v => v + 2 - 0.1).ToArray(), KsMethod.Exact);

        Assert.Equal(3.0 / 100, plus.D, 12);
        Assert.Equal(0.9999999999962055, plus.PValue, 12);
        Assert.Equal(2.0 / 100, minus.D, 12);
        Assert.Equal(1.0, minus.PValue, SciPyDecimals);
    }

    [Fact]
    public void HundredVersusHundredTen_ForcedExact_MatchesSciPy()
    {
        // TestKSTwoSamples.test100_110: linspace(1, 100, 100) against linspace(1, 100, 110) + 20 ± 0.1.
        double[] x100 = LinSpace(1, 100, 100);
        double[] x110 = LinSpace(1, 100, 110);

        KsResult plus = KolmogorovSmirnov.TwoSample(x100, x110.Select(v => v + 20 + 0.1).ToArray(), KsMethod.Exact);
        KsResult minus = KolmogorovSmirnov.TwoSample(x100, x110.Select(v => v + 20 - 0.1).ToArray(), KsMethod.Exact);

        Assert.Equal(232.0 / 1100, plus.D, 12);
        Assert.Equal(0.015739183865607353, plus.PValue, 12);
        Assert.Equal(229.0 / 1100, minus.D, 12);
        Assert.Equal(0.017803803861026313, minus.PValue, 12);
    }

    [Fact]
    public void LargeSamples_UseAsymptoticPValue_CloseToSciPyExact()
    {
        // TestKSTwoSamples.testLargeBoth: n1 = 10,000, n2 = 11,000, x = linspace(1, 200, n1) − δ,
        // y = linspace(2, 200, n2), δ = 1/n1/n2/4; D = 563/110,000, exact p = 0.9990456491488628.
        const int n1 = 10_000;
        const int n2 = 11_000;
        const double delta = 1.0 / n1 / n2 / 2 / 2;
        double[] x = LinSpace(1, 200, n1).Select(v => v - delta).ToArray();
        double[] y = LinSpace(2, 200, n2);

        KsResult automatic = KolmogorovSmirnov.TwoSampleSorted(x, y);
        KsResult exact = KolmogorovSmirnov.TwoSampleSorted(x, y, KsMethod.Exact);

        Assert.Equal(KsMethod.Asymptotic, automatic.Method);
        Assert.Equal(563.0 / 110_000, automatic.D, 12);
        // Stephens' corrected limit is an approximation: here it is within 1e-4 of the exact value
        // (SciPy's own asymptotic method gives 0.9990660, also within 1e-4).
        Assert.Equal(0.9990456491488628, automatic.PValue, 1e-4);
        Assert.Equal(0.9990456491488628, exact.PValue, 1e-10);
    }

    [Fact]
    public void AsymptoticPValue_IsTheStephensCorrectedKolmogorovLimit()
    {
        // a = 0..199 and b = 30..229: for 30 ≤ x ≤ 199 the ECDFs differ by (x+1)/200 − (x−29)/200 = 30/200,
        // and by less elsewhere, so D = 0.15 by hand. n·m = 40,000 selects the asymptotic method:
        // nₑ = 100 and λ = (√100 + 0.12 + 0.11/√100)·0.15 (Stephens 1970; Numerical Recipes §14.3).
        double[] a = Enumerable.Range(0, 200).Select(i => (double)i).ToArray();
        double[] b = Enumerable.Range(30, 200).Select(i => (double)i).ToArray();

        KsResult result = KolmogorovSmirnov.TwoSampleSorted(a, b);

        Assert.Equal(KsMethod.Asymptotic, result.Method);
        Assert.Equal(0.15, result.D, 15);
        Assert.Equal(KolmogorovDistribution.Survival((10 + 0.12 + 0.011) * 0.15), result.PValue, 15);
    }

    [Fact]
    public void ExactChosenAutomaticallyOnlyBelowTheSizeProductLimit()
    {
        double[] small = LinSpace(0, 1, 99);
        double[] hundred = LinSpace(0, 1, 100);

        Assert.Equal(KsMethod.Exact, KolmogorovSmirnov.TwoSample(small, hundred).Method);
        Assert.Equal(KsMethod.Asymptotic, KolmogorovSmirnov.TwoSample(hundred, hundred).Method);
    }

    [Fact]
    public void SortedOverload_AgreesWithUnsortedOverload()
    {
        var random = new Random(20240611);
        double[] a = Enumerable.Range(0, 500).Select(_ => Math.Round(random.NextDouble() * 50)).ToArray();
        double[] b = Enumerable.Range(0, 700).Select(_ => Math.Round(random.NextDouble() * 55)).ToArray();

        KsResult unsorted = KolmogorovSmirnov.TwoSample(a, b);
        Array.Sort(a);
        Array.Sort(b);

        Assert.Equal(unsorted, KolmogorovSmirnov.TwoSampleSorted(a, b));
    }

    [Fact]
    public void SortedOverload_RejectsUnsortedOrNaNInput()
    {
        Assert.Throws<ArgumentException>(() => KolmogorovSmirnov.TwoSampleSorted([2.0, 1.0], [1.0]));
        Assert.Throws<ArgumentException>(() => KolmogorovSmirnov.TwoSampleSorted([1.0, double.NaN], [1.0]));
        Assert.Throws<ArgumentException>(() => KolmogorovSmirnov.TwoSampleSorted([double.NaN], [1.0]));
    }

    [Fact]
    public void RejectsEmptySamplesAndNaN()
    {
        Assert.Throws<ArgumentException>(() => KolmogorovSmirnov.TwoSample([], [1.0]));
        Assert.Throws<ArgumentException>(() => KolmogorovSmirnov.TwoSample([1.0], []));
        Assert.Throws<ArgumentException>(() => KolmogorovSmirnov.TwoSample([1.0, double.NaN], [1.0]));
    }

    private static double[] Repeat(double value, int count) => Enumerable.Repeat(value, count).ToArray();

    /// <summary>numpy.linspace: start + i·step with the last point pinned to stop.</summary>
    private static double[] LinSpace(double start, double stop, int count)
    {
        double step = (stop - start) / (count - 1);
        double[] points = Enumerable.Range(0, count).Select(i => start + i * step).ToArray();
        points[^1] = stop;
        return points;
    }
}
