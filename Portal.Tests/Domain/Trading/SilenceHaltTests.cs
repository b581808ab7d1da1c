using Portal.Domain.Trading;

namespace Portal.Tests.Domain.Trading;

public sealed class SilenceHaltTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 15, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan HaltAfter = TimeSpan.FromMinutes(1);
    private static readonly (string, TimeSpan, bool)[] Silences =
        [("broker-silent", TimeSpan.FromSeconds(5), false), ("market-data-silent", TimeSpan.FromSeconds(10), true)];

    [Theory]
    [InlineData("broker-silent", 55)]
    [InlineData("market-data-silent", 50)]
    public void A_silence_halts_exactly_when_it_has_lasted_the_halt_threshold_in_all(string cause, int secondsInSafeMode)
    {
        var justBefore = new Dictionary<string, DateTimeOffset> { [cause] = Now - TimeSpan.FromSeconds(secondsInSafeMode) + TimeSpan.FromTicks(1) };
        var atThreshold = new Dictionary<string, DateTimeOffset> { [cause] = Now - TimeSpan.FromSeconds(secondsInSafeMode) };

        Assert.Null(SilenceHalt.Breach(justBefore, Silences, HaltAfter, Now, MarketSession.Unknown));
        Assert.Equal($"auto: {cause} for longer than 1 minute", SilenceHalt.Breach(atThreshold, Silences, HaltAfter, Now, MarketSession.Unknown));
    }

    [Fact]
    public void Other_safe_mode_causes_never_halt_however_long_they_hold()
    {
        var causes = new Dictionary<string, DateTimeOffset> { ["redis-unreachable"] = Now.AddHours(-5), ["postgres-unreachable"] = Now.AddHours(-5) };

        Assert.Null(SilenceHalt.Breach(causes, Silences, HaltAfter, Now, MarketSession.Unknown));
    }

    [Fact]
    public void While_the_market_is_closed_market_data_silence_does_not_halt_but_broker_silence_still_does()
    {
        var closed = new MarketSession(Closed: true, OpenedAt: null);
        var marketData = new Dictionary<string, DateTimeOffset> { ["market-data-silent"] = Now.AddHours(-16) };
        var both = new Dictionary<string, DateTimeOffset> { ["market-data-silent"] = Now.AddHours(-16), ["broker-silent"] = Now.AddMinutes(-2) };

        Assert.Null(SilenceHalt.Breach(marketData, Silences, HaltAfter, Now, closed));
        Assert.Equal("auto: broker-silent for longer than 1 minute", SilenceHalt.Breach(both, Silences, HaltAfter, Now, closed));
    }

    [Fact]
    public void After_the_open_a_silence_through_the_night_counts_from_the_open()
    {
        var overnight = new Dictionary<string, DateTimeOffset> { ["market-data-silent"] = Now.AddHours(-16) };
        var opened = Now.AddSeconds(-30);

        Assert.Null(SilenceHalt.Breach(overnight, Silences, HaltAfter, Now, new MarketSession(false, opened)));
        Assert.Equal("auto: market-data-silent for longer than 1 minute",
            SilenceHalt.Breach(overnight, Silences, HaltAfter, opened + HaltAfter, new MarketSession(false, opened)));
        // A silence that began after the open counts from its own start.
        var sinceLunch = new Dictionary<string, DateTimeOffset> { ["market-data-silent"] = Now.AddSeconds(-50) };
        Assert.Equal("auto: market-data-silent for longer than 1 minute",
            SilenceHalt.Breach(sinceLunch, Silences, HaltAfter, Now, new MarketSession(false, Now.AddHours(-3))));
    }
}
