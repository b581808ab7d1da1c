using Portal.Domain.Risk;
using Portal.Features.Readiness;

namespace Portal.Tests.Domain.Risk;

public sealed class LossHaltTests
{
    private static readonly RiskLimits Limits = RiskLimits.SeedDefaults; // daily 2,000, weekly 5,000, drawdown 0.15

    private static PortfolioSnapshot Account(decimal equity, decimal dayStart, decimal weekStart, decimal highWaterMark) =>
        new(equity, dayStart, weekStart, highWaterMark, new Dictionary<string, SymbolBook>());

    [Fact]
    public void A_loss_exactly_at_each_limit_does_not_halt_and_a_cent_more_does()
    {
        Assert.Null(LossHalt.Breach(Account(98_000m, 100_000m, 98_000m, 98_000m), Limits));
        Assert.Equal("auto: daily loss $2000.01 beyond the limit $2000.00", LossHalt.Breach(Account(97_999.99m, 100_000m, 97_999.99m, 97_999.99m), Limits));

        Assert.Null(LossHalt.Breach(Account(95_000m, 95_000m, 100_000m, 95_000m), Limits));
        Assert.Equal("auto: weekly loss $5000.01 beyond the limit $5000.00", LossHalt.Breach(Account(94_999.99m, 94_999.99m, 100_000m, 94_999.99m), Limits));

        Assert.Null(LossHalt.Breach(Account(85_000m, 85_000m, 85_000m, 100_000m), Limits));
        Assert.StartsWith("auto: drawdown 15.00", LossHalt.Breach(Account(84_999.99m, 84_999.99m, 84_999.99m, 100_000m), Limits));
    }

    [Theory]
    [InlineData(DeploymentPhase.SmallLive, 50, 100)]
    [InlineData(DeploymentPhase.ScaleUp, 500, 1_000)]
    public void Under_a_phase_the_capped_loss_limits_halt(DeploymentPhase phase, int dailyCap, int weeklyCap)
    {
        var capped = DeploymentPhases.Cap(Limits, phase);

        Assert.Null(LossHalt.Breach(Account(100_000m - dailyCap, 100_000m, 100_000m - dailyCap, 100_000m), capped));
        Assert.Equal($"auto: daily loss ${dailyCap}.01 beyond the limit ${dailyCap}.00",
            LossHalt.Breach(Account(100_000m - dailyCap - 0.01m, 100_000m, 100_000m - dailyCap - 0.01m, 100_000m), capped));
        Assert.Null(LossHalt.Breach(Account(100_000m - weeklyCap, 100_000m - weeklyCap, 100_000m, 100_000m), capped));
        Assert.Equal($"auto: weekly loss ${weeklyCap}.01 beyond the limit ${weeklyCap}.00",
            LossHalt.Breach(Account(100_000m - weeklyCap - 0.01m, 100_000m - weeklyCap - 0.01m, 100_000m, 100_000m), capped));
        // The same loss against the uncapped limits: no halt, which is what the monitor did before it applied the caps.
        Assert.Null(LossHalt.Breach(Account(100_000m - dailyCap - 0.01m, 100_000m, 100_000m, 100_000m), Limits));
    }
}
