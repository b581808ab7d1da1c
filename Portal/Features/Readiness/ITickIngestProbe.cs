using Portal.Domain.MarketData;

namespace Portal.Features.Readiness;

/// <summary>
/// What the bad-ticks drill needs of the market-data ingest: one tick put through the same validation and counting
/// (<c>data_validation_failures</c>) as the feed's, without ever becoming a price. The ingest registers an
/// implementation; until one is registered the drill reports that it is not wired and its item stays red.
/// </summary>
public interface ITickIngestProbe
{
    /// <summary>Validates <paramref name="tick"/> as the ingest would and counts a refusal; an accepted tick is discarded.</summary>
    Task<TickVerdict> ProbeAsync(Tick tick, CancellationToken ct);

    /// <summary>The refusals counted so far for <paramref name="reason"/> (the metric's value for that rule).</summary>
    double FailureCount(TickRejectReason reason);
}
