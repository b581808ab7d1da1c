using Portal.Domain.MarketData;

namespace Portal.Tests.Domain.MarketData;

public class AnomalyDetectorTests
{
    private static readonly DateTimeOffset Start = new(2025, 1, 2, 14, 30, 0, TimeSpan.Zero);

    [Fact]
    public void CleanSeries_HasNoFlags()
    {
        decimal[] prices = Enumerable.Range(0, 100).Select(k => 100m + (k % 7) * 0.01m).ToArray();

        Assert.Equal(default, Detect(prices, EverySecond(prices.Length)));
    }

    [Theory]
    [InlineData(5_000, false)]   // ExpectedCadence 1 s × GapMultiple 5
    [InlineData(5_001, true)]
    public void Gaps_AreJudgedFromTimestamps(int intervalMilliseconds, bool hasGaps)
    {
        decimal[] prices = [100m, 100.1m, 100.2m];
        DateTimeOffset[] times = [Start, Start.AddSeconds(1), Start.AddSeconds(1).AddMilliseconds(intervalMilliseconds)];

        Assert.Equal(hasGaps, Detect(prices, times).HasGaps);
    }

    [Theory]
    [InlineData(19, false)]
    [InlineData(20, true)]
    public void Flatline_IsARunOfIdenticalPrices(int runLength, bool flatlined)
    {
        decimal[] prices = [100m, .. Enumerable.Repeat(101m, runLength), 102m, 103m];

        Assert.Equal(flatlined, Detect(prices, EverySecond(prices.Length)).IsFlatlined);
    }

    [Fact]
    public void Flatline_TwoEqualPricesAreNotAFlatline()
    {
        // The seed sketch's len(set(prices)) == 1 called this a flatline.
        decimal[] prices = [100m, 100m];

        Assert.False(Detect(prices, EverySecond(2)).IsFlatlined);
    }

    [Theory]
    [InlineData("108.8956", false)]  // robust z = 6 exactly against median 100, MAD 1
    [InlineData("108.8957", true)]
    public void Spikes_UseTheRobustZScoreOfThePrecedingWindow(string last, bool hasSpikes)
    {
        decimal[] prices =
        [
            .. Enumerable.Range(0, TickRules.Default.SpikeWindow).Select(k => k % 2 == 0 ? 99m : 101m),
            Dec(last),
        ];

        Assert.Equal(hasSpikes, Detect(prices, EverySecond(prices.Length)).HasSpikes);
    }

    [Theory]
    [InlineData("0", true)]
    [InlineData("-1", true)]
    [InlineData("0.01", false)]
    public void NonPositivePricesCountAsNegatives(string price, bool hasNegatives)
    {
        decimal[] prices = [100m, Dec(price), 100m];

        Assert.Equal(hasNegatives, Detect(prices, EverySecond(3)).HasNegatives);
    }

    [Fact]
    public void MismatchedLengthsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => AnomalyDetector.Detect([100m, 101m], EverySecond(1), TickRules.Default));
    }

    private static decimal Dec(string text) => decimal.Parse(text, System.Globalization.CultureInfo.InvariantCulture);

    private static AnomalyReport Detect(decimal[] prices, DateTimeOffset[] times) =>
        AnomalyDetector.Detect(prices, times, TickRules.Default);

    private static DateTimeOffset[] EverySecond(int count) =>
        Enumerable.Range(0, count).Select(k => Start.AddSeconds(k)).ToArray();
}
