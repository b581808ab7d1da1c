namespace Portal.Domain.MarketData;

/// <summary>Why a tick was refused. <see cref="None"/> means it was accepted.</summary>
public enum TickRejectReason
{
    None = 0,

    /// <summary>Price at or below the symbol's minimum.</summary>
    PriceTooLow,

    /// <summary>Price above the symbol's maximum.</summary>
    PriceTooHigh,

    /// <summary>NaN, infinity, or a magnitude no decimal can hold (raised while parsing, before validation).</summary>
    NonFinite,

    /// <summary>Negative price, bid, ask or size.</summary>
    Negative,

    /// <summary>Bid above ask.</summary>
    CrossedQuote,

    /// <summary>(ask − bid) / bid above the limit, or a zero bid.</summary>
    SpreadTooWide,

    /// <summary>Relative move from the last valid price above the limit.</summary>
    PriceJump,

    /// <summary>Timestamp older than the maximum age.</summary>
    Stale,

    /// <summary>Timestamp ahead of now by more than the allowed clock skew.</summary>
    FutureTimestamp,

    /// <summary>Timestamp earlier than the last valid tick's.</summary>
    OutOfOrder,

    /// <summary>Same timestamp and fields as the last valid tick (a replay).</summary>
    Duplicate,

    /// <summary>Robust z-score against the recent valid prices above the limit.</summary>
    Spike,

    /// <summary>A symbol the portal does not trade (raised by the ingest, before validation).</summary>
    UnknownSymbol,
}

/// <summary>Outcome of validating one tick.</summary>
/// <param name="Detail">Human-readable reason with the offending values; empty when accepted.</param>
public readonly record struct TickVerdict(bool Accepted, TickRejectReason Reason, string Detail)
{
    /// <summary>What an accepted tick revealed about the feed (a gap before it, a flatline it completes).</summary>
    public TickAnomaly Anomaly { get; init; }

    public static TickVerdict Accept { get; } = new(true, TickRejectReason.None, string.Empty);

    public static TickVerdict Reject(TickRejectReason reason, string detail) => new(false, reason, detail);
}

/// <summary>A windowed anomaly seen on an accepted tick; refusals carry their own reason.</summary>
public enum TickAnomaly
{
    None = 0,

    /// <summary>The tick came more than ExpectedCadence × GapMultiple after the previous valid tick.</summary>
    Gap,

    /// <summary>The tick is the FlatlineCount-th identical consecutive valid price.</summary>
    Flatline,
}

/// <summary>Health of a symbol's feed.</summary>
public enum SymbolDataStatus
{
    Ok,

    /// <summary>No valid tick within the maximum age of now.</summary>
    Stale,

    /// <summary>Flatlined, or more anomalies (jumps, spikes, flatlines) in the recent window than allowed.</summary>
    Suspect,
}
