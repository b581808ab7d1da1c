using Portal.Domain.Statistics;

namespace Portal.Tests.Domain.Statistics;

public class KolmogorovDistributionTests
{
    // Published large-sample critical values of the two-sided KS test, c(α) with P(K > c(α)) = α, as tabulated
    // to three decimals in Wikipedia, "Kolmogorov–Smirnov test", section "Two-sample Kolmogorov–Smirnov test"
    // (the 0.10/0.05/0.025/0.01/0.005/0.001 entries also appear to two decimals in the classic printed
    // two-sample KS tables: 1.22, 1.36, 1.48, 1.63, 1.73, 1.95). Rounding c to three decimals moves Q by at
    // most ≈ 0.4% of α, so that is the tolerance.
    [Theory]
    [InlineData(1.073, 0.20)]
    [InlineData(1.138, 0.15)]
    [InlineData(1.224, 0.10)]
    [InlineData(1.358, 0.05)]
    [InlineData(1.480, 0.025)]
    [InlineData(1.628, 0.01)]
    [InlineData(1.731, 0.005)]
    [InlineData(1.949, 0.001)]
    public void Survival_AtPublishedCriticalValues_IsAlpha(double criticalValue, double alpha)
    {
        Assert.Equal(alpha, KolmogorovDistribution.Survival(criticalValue), alpha * 0.005);
    }

    [Fact]
    public void Survival_IsContinuousWhereTheTwoSeriesMeet()
    {
        // Both series are evaluated on either side of the switch point; the function must not jump.
        double below = KolmogorovDistribution.Survival(Math.BitDecrement(1.18));
        double above = KolmogorovDistribution.Survival(1.18);

        Assert.Equal(below, above, 1e-14);
    }

    [Fact]
    public void Survival_Limits()
    {
        Assert.Equal(1.0, KolmogorovDistribution.Survival(0));
        Assert.Equal(1.0, KolmogorovDistribution.Survival(0.1), 1e-15);
        Assert.Equal(0.0, KolmogorovDistribution.Survival(40));
        Assert.Throws<ArgumentOutOfRangeException>(() => KolmogorovDistribution.Survival(double.NaN));
    }
}
