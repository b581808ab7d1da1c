using Portal.Domain.Trading;

namespace Portal.Tests.Domain.Trading;

public sealed class MarketClockTrackerTests
{
    private static readonly DateTimeOffset Close = new(2026, 12, 4, 21, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset NextOpen = new(2026, 12, 7, 14, 30, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset NextClose = new(2026, 12, 7, 21, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(3);

    [Fact]
    public void Without_a_reading_the_session_is_unknown()
    {
        Assert.Equal(MarketSession.Unknown, new MarketClockTracker(StaleAfter).At(Close));
    }

    [Fact]
    public void The_close_and_the_open_take_effect_on_time_between_readings()
    {
        var tracker = new MarketClockTracker(StaleAfter);
        tracker.Read(Close.AddMinutes(-1), isOpen: true, nextOpen: NextOpen, nextClose: Close);

        Assert.Equal(new MarketSession(false, null), tracker.At(Close.AddSeconds(-1)));
        Assert.Equal(new MarketSession(true, null), tracker.At(Close));

        tracker.Read(NextOpen.AddMinutes(-2), isOpen: false, nextOpen: NextOpen, nextClose: NextClose);
        Assert.Equal(new MarketSession(true, null), tracker.At(NextOpen.AddTicks(-1)));
        Assert.Equal(new MarketSession(false, NextOpen), tracker.At(NextOpen.AddSeconds(1)));

        tracker.Read(NextOpen.AddSeconds(2), isOpen: true, nextOpen: NextOpen.AddDays(1), nextClose: NextClose);
        Assert.Equal(new MarketSession(false, NextOpen), tracker.At(NextOpen.AddMinutes(1)));
    }

    [Fact]
    public void An_open_found_before_the_announced_time_counts_from_the_reading()
    {
        var tracker = new MarketClockTracker(StaleAfter);
        tracker.Read(NextOpen.AddHours(-1), isOpen: false, nextOpen: NextOpen, nextClose: NextClose);
        var early = NextOpen.AddMinutes(-10);
        tracker.Read(early, isOpen: true, nextOpen: NextOpen.AddDays(1), nextClose: NextClose);

        Assert.Equal(new MarketSession(false, early), tracker.At(early.AddSeconds(5)));
    }

    [Fact]
    public void A_reading_older_than_the_allowance_is_not_trusted()
    {
        var tracker = new MarketClockTracker(StaleAfter);
        tracker.Read(Close.AddMinutes(1), isOpen: false, nextOpen: NextOpen, nextClose: NextClose);

        Assert.True(tracker.At(Close.AddMinutes(1) + StaleAfter).Closed);
        Assert.Equal(MarketSession.Unknown, tracker.At(Close.AddMinutes(1) + StaleAfter + TimeSpan.FromTicks(1)));
    }
}
