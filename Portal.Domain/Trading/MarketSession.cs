namespace Portal.Domain.Trading;

/// <summary>
/// What the broker's market clock says at one moment: whether the market is closed (its data is then silent by nature),
/// and when it last opened, if known. <see cref="Unknown"/> when there is no clock, or its word is too old to trust:
/// silences are then judged as if the market never closed.
/// </summary>
public readonly record struct MarketSession(bool Closed, DateTimeOffset? OpenedAt)
{
    public static MarketSession Unknown => new(false, null);
}

/// <summary>
/// Follows the broker's market clock from its readings (is it open, the next open and close). Between readings it goes by
/// the times the last one gave, so the close and the open take effect on time, not at the next reading; a reading older
/// than the staleness allowance is not trusted. Thread-safe: one writer, any readers.
/// </summary>
public sealed class MarketClockTracker(TimeSpan staleAfter)
{
    private sealed record Reading(DateTimeOffset ReadAt, bool IsOpen, DateTimeOffset NextOpen, DateTimeOffset NextClose, DateTimeOffset? OpenedAt);

    private volatile Reading? _last;

    public void Read(DateTimeOffset readAt, bool isOpen, DateTimeOffset nextOpen, DateTimeOffset nextClose)
    {
        var previous = _last;
        // Opened at the open the previous reading announced, unless that was still to come when this one found it open.
        DateTimeOffset? openedAt = !isOpen ? null
            : previous is { IsOpen: false } closed ? Min(closed.NextOpen, readAt)
            : previous?.OpenedAt;
        _last = new Reading(readAt, isOpen, nextOpen, nextClose, openedAt);
    }

    public MarketSession At(DateTimeOffset now)
    {
        if (_last is not { } last || now - last.ReadAt > staleAfter) return MarketSession.Unknown;
        if (last.IsOpen) return now < last.NextClose ? new MarketSession(false, last.OpenedAt) : new MarketSession(true, null);
        return now < last.NextOpen ? new MarketSession(true, null) : new MarketSession(false, last.NextOpen);
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
}
