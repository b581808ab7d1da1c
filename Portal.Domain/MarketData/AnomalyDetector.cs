namespace Portal.Domain.MarketData;

/// <summary>Anomalies found in a window of prices.</summary>
/// <param name="HasGaps">Some interval between consecutive times exceeds ExpectedCadence × GapMultiple.</param>
/// <param name="HasSpikes">Some price's robust z-score against the preceding SpikeWindow prices exceeds the limit.</param>
/// <param name="IsFlatlined">Some run of FlatlineCount or more identical consecutive prices.</param>
/// <param name="HasNegatives">Some price ≤ 0: zero is no more a valid price than a negative one.</param>
public readonly record struct AnomalyReport(bool HasGaps, bool HasSpikes, bool IsFlatlined, bool HasNegatives);

/// <summary>
/// Batch anomaly scan over a price series, for monitoring stored windows.
/// </summary>
/// <remarks>
/// Unlike the seed sketch, gaps are judged from the timestamps (not the prices), a flatline is a run of
/// identical prices (not "the window has a single distinct value", which fires on any two equal prices and
/// misses a long flat stretch inside a busy window), and no wall clock is involved.
/// Every price enters the spike window, since a batch has no notion of rejection; median and MAD keep a
/// single outlier from masking the next one.
/// </remarks>
public static class AnomalyDetector
{
    /// <exception cref="ArgumentException">The spans differ in length or the rules are inconsistent.</exception>
    public static AnomalyReport Detect(ReadOnlySpan<decimal> prices, ReadOnlySpan<DateTimeOffset> times, TickRules rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        rules.ThrowIfInvalid();
        if (prices.Length != times.Length)
        {
            throw new ArgumentException("Each price needs exactly one timestamp.", nameof(times));
        }

        TimeSpan maxGap = rules.MaxGap;
        var window = new RollingPriceWindow(rules.SpikeWindow);
        bool hasGaps = false;
        bool hasSpikes = false;
        bool isFlatlined = false;
        bool hasNegatives = false;
        int identicalRun = 0;
        for (int k = 0; k < prices.Length; k++)
        {
            decimal price = prices[k];
            hasNegatives |= price <= 0;
            hasGaps |= k > 0 && times[k] - times[k - 1] > maxGap;
            identicalRun = k > 0 && price == prices[k - 1] ? identicalRun + 1 : 1;
            isFlatlined |= identicalRun >= rules.FlatlineCount;
            hasSpikes |= window.IsSpike(price, rules.SpikeZScore, out _);
            window.Add(price);
        }

        return new AnomalyReport(hasGaps, hasSpikes, isFlatlined, hasNegatives);
    }
}
