using System.Collections.Concurrent;
using System.Diagnostics;
using Portal.Domain.MarketData;
using Portal.Features.MarketData;
using Portal.Features.Risk;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.MarketData;

/// <summary>
/// Two instances with the demo market on: it is one feed, walked by one of them and heard by both; when the walking
/// instance stops, the other takes the walk over. Two walks interleaved on the shared stream would look like spikes.
/// </summary>
public sealed class DemoMarketTests
{
    private static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(100);

    [Fact]
    public async Task Two_instances_hear_one_demo_walk_and_the_survivor_takes_it_over()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Demo:Enabled"] = "true",
            ["Demo:StrategyEnabled"] = "false",
            ["Demo:TickInterval"] = TickInterval.ToString(),
        };
        var a = await PortalFactory.StartAsync(settings);
        await using var b = await a.StartPeerAsync();
        var ticks = new ConcurrentQueue<PriceMark>();
        b.Get<PriceBook>().PriceChanged += ticks.Enqueue;

        // Counted between two readings of the test's own clock: one walker cannot tick more often than its interval
        // (a late timer does not catch up), two would. A slow machine only lowers the count.
        await Poll.UntilAsync(() => ticks.Count(t => t.Symbol == "AAPL") >= 3, "b hears the demo walk", TimeSpan.FromSeconds(60));
        var watch = Stopwatch.StartNew();
        var before = ticks.Count(t => t.Symbol == "AAPL");
        await Poll.UntilAsync(() => watch.Elapsed >= TimeSpan.FromSeconds(3), "three seconds of the walk pass");
        var heard = ticks.Count(t => t.Symbol == "AAPL") - before;
        var mostOneWalkerMakes = (int)(watch.Elapsed / TickInterval) + 2;
        Assert.True(heard <= mostOneWalkerMakes, $"b heard {heard} AAPL ticks in {watch.Elapsed}: more than one walk ({mostOneWalkerMakes} at most)");

        var ingest = b.Get<MarketDataIngest>();
        await a.DisposeAsync();
        var stopped = b.Get<TimeProvider>().GetUtcNow();
        await Poll.UntilAsync(() => ticks.Count(t => t.Symbol == "AAPL" && t.Time > stopped) >= 5,
            "b walks the market once a has stopped", TimeSpan.FromSeconds(60));
        Assert.Equal(SymbolDataStatus.Ok, ingest.StatusOf("AAPL"));
    }
}
