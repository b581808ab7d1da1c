using Portal.Features.Demo;
using Portal.Features.ModelDrift;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.ModelDrift;

public sealed class DemoModelFeedTests
{
    [Fact]
    public async Task The_demo_feed_pins_its_baseline_at_start_and_its_shifted_feature_drifts()
    {
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?>
        {
            ["Demo:Enabled"] = "true",
            ["Demo:StrategyEnabled"] = "false",
            ["Demo:ModelFeed:Interval"] = "00:00:00.2",
            ["Demo:ModelFeed:BatchSize"] = "20",
            ["Demo:ModelFeed:ShiftAfter"] = "00:00:00",
            ["Demo:ModelFeed:FirstCheckAfter"] = "00:00:03",
        });
        var store = portal.Get<ModelDriftStore>();

        DriftRunView? run = null;
        await Poll.UntilAsync(async () => (run = await store.LatestRunAsync(DemoModelFeed.ModelId, CancellationToken.None)) is not null,
            "the demo feed ran its first drift check", TimeSpan.FromSeconds(60));

        var baseline = (await store.BaselineAsync(DemoModelFeed.ModelId, CancellationToken.None))!;
        Assert.Equal(DemoModelFeed.BaselineSize, baseline.FirstN);
        Assert.Equal(DemoModelFeed.BaselineSize, run!.BaselineCount);
        Assert.Equal("spread_bps", Assert.Single(run.Results, r => r.Drifted).Name);
    }
}
