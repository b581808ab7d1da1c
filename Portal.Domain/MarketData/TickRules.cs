namespace Portal.Domain.MarketData;

/// <summary>Validation limits for one symbol. Every limit is inclusive: a value exactly at the limit passes,
/// except <see cref="MinPrice"/>, which is itself refused.</summary>
public sealed record TickRules
{
    /// <summary>Prices at or below this are refused (a price of exactly 0.01 is refused).</summary>
    public decimal MinPrice { get; init; } = 0.01m;

    /// <summary>Prices above this are refused.</summary>
    public decimal MaxPrice { get; init; } = 100_000m;

    /// <summary>Largest accepted |price − last valid price| / last valid price.</summary>
    public decimal MaxChangePct { get; init; } = 0.50m;

    /// <summary>Largest accepted (ask − bid) / bid.</summary>
    public decimal MaxSpreadPct { get; init; } = 0.10m;

    /// <summary>Oldest accepted tick age (now − timestamp); also the staleness horizon of a symbol.</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How far ahead of now a timestamp may be (clock skew between source and us).</summary>
    public TimeSpan MaxFutureSkew { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Number of recent prices whose median and MAD define a spike: valid prices and prices refused
    /// only as spikes, so a sustained move is accepted once it fills half the window.</summary>
    public int SpikeWindow { get; init; } = 30;

    /// <summary>Largest accepted robust z-score |price − median| / (1.4826·MAD).</summary>
    public decimal SpikeZScore { get; init; } = 6m;

    /// <summary>This many identical consecutive valid prices mean the feed has flatlined.</summary>
    public int FlatlineCount { get; init; } = 20;

    /// <summary>Normal interval between ticks.</summary>
    public TimeSpan ExpectedCadence { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>An interval longer than <see cref="ExpectedCadence"/> times this is a gap.</summary>
    public int GapMultiple { get; init; } = 5;

    /// <summary>More anomalies than this within <see cref="AnomalyWindow"/> make a symbol suspect.</summary>
    public int MaxAnomaliesInWindow { get; init; } = 3;

    /// <summary>Look-back for counting anomalies.</summary>
    public TimeSpan AnomalyWindow { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The seed memo's limits plus defaults for the statistical checks.</summary>
    public static TickRules Default { get; } = new();

    private const int MaxBufferLength = 10_000;

    internal TimeSpan MaxGap => ExpectedCadence * GapMultiple;

    internal void ThrowIfInvalid()
    {
        Require(MinPrice >= 0 && MaxPrice > MinPrice, "need 0 <= MinPrice < MaxPrice");
        Require(MaxChangePct > 0, "MaxChangePct must be positive");
        Require(MaxSpreadPct >= 0, "MaxSpreadPct must not be negative");
        Require(MaxAge > TimeSpan.Zero, "MaxAge must be positive");
        Require(MaxFutureSkew >= TimeSpan.Zero, "MaxFutureSkew must not be negative");
        // Upper bounds keep a typo from allocating huge per-symbol buffers.
        Require(SpikeWindow is >= 3 and <= MaxBufferLength, "SpikeWindow must be between 3 and 10,000");
        Require(SpikeZScore > 0, "SpikeZScore must be positive");
        Require(FlatlineCount >= 2, "FlatlineCount must be at least 2");
        Require(ExpectedCadence > TimeSpan.Zero, "ExpectedCadence must be positive");
        Require(GapMultiple >= 1, "GapMultiple must be at least 1");
        Require(MaxAnomaliesInWindow is >= 0 and < MaxBufferLength, "MaxAnomaliesInWindow must be between 0 and 9,999");
        Require(AnomalyWindow > TimeSpan.Zero, "AnomalyWindow must be positive");
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new ArgumentException("Invalid tick rules: " + message + ".");
        }
    }
}
