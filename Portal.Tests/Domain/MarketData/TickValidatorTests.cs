using Portal.Domain.MarketData;

namespace Portal.Tests.Domain.MarketData;

public class TickValidatorTests
{
    private const string Symbol = "AAPL";
    private static readonly DateTimeOffset Now = new(2025, 1, 2, 14, 30, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("0.01", TickRejectReason.PriceTooLow)]    // MinPrice itself is refused (price <= MinPrice)
    [InlineData("0.0100001", TickRejectReason.None)]
    [InlineData("100000", TickRejectReason.None)]         // MaxPrice itself is accepted
    [InlineData("100000.0001", TickRejectReason.PriceTooHigh)]
    public void PriceLimits(string price, TickRejectReason expected)
    {
        TickVerdict verdict = new TickValidator().Validate(At(Dec(price), Now), Now);

        Assert.Equal(expected, verdict.Reason);
        Assert.Equal(expected == TickRejectReason.None, verdict.Accepted);
        Assert.Equal(expected == TickRejectReason.None, verdict.Detail.Length == 0);
    }

    [Fact]
    public void NegativeFieldsAreRefusedAsNegative_ZeroPriceAsTooLow()
    {
        var validator = new TickValidator();

        Assert.Equal(TickRejectReason.Negative, validator.Validate(At(-1m, Now), Now).Reason);
        Assert.Equal(TickRejectReason.Negative, validator.Validate(At(100m, Now, bid: -1m, ask: 100m), Now).Reason);
        Assert.Equal(TickRejectReason.Negative, validator.Validate(At(100m, Now, size: -5m), Now).Reason);
        Assert.Equal(TickRejectReason.PriceTooLow, validator.Validate(At(0m, Now), Now).Reason);
    }

    [Fact]
    public void CrossedQuoteIsRefused_LockedQuoteIsAccepted()
    {
        Assert.Equal(TickRejectReason.CrossedQuote, new TickValidator().Validate(At(100m, Now, bid: 100.01m, ask: 100m), Now).Reason);
        Assert.True(new TickValidator().Validate(At(100m, Now, bid: 100m, ask: 100m), Now).Accepted);
    }

    [Theory]
    [InlineData("110", true)]        // (110 − 100) / 100 = 10 % exactly
    [InlineData("110.0001", false)]
    public void SpreadLimit(string ask, bool accepted)
    {
        TickVerdict verdict = new TickValidator().Validate(
            At(105m, Now, bid: 100m, ask: Dec(ask)), Now);

        Assert.Equal(accepted, verdict.Accepted);
        Assert.Equal(accepted ? TickRejectReason.None : TickRejectReason.SpreadTooWide, verdict.Reason);
    }

    [Fact]
    public void ZeroBidHasNoFiniteSpread()
    {
        Assert.Equal(TickRejectReason.SpreadTooWide, new TickValidator().Validate(At(1m, Now, bid: 0m, ask: 2m), Now).Reason);
    }

    [Theory]
    [InlineData(60_000, true)]
    [InlineData(60_001, false)]
    public void MaxAge(int ageMilliseconds, bool accepted)
    {
        TickVerdict verdict = new TickValidator().Validate(At(100m, Now.AddMilliseconds(-ageMilliseconds)), Now);

        Assert.Equal(accepted ? TickRejectReason.None : TickRejectReason.Stale, verdict.Reason);
    }

    [Theory]
    [InlineData(2_000, true)]
    [InlineData(2_001, false)]
    public void MaxFutureSkew(int aheadMilliseconds, bool accepted)
    {
        TickVerdict verdict = new TickValidator().Validate(At(100m, Now.AddMilliseconds(aheadMilliseconds)), Now);

        Assert.Equal(accepted ? TickRejectReason.None : TickRejectReason.FutureTimestamp, verdict.Reason);
    }

    [Fact]
    public void OutOfOrderAndDuplicate()
    {
        var validator = new TickValidator();
        Tick first = At(100m, Now.AddSeconds(-1), bid: 99.9m, ask: 100.1m, size: 10m);
        Assert.True(validator.Validate(first, Now).Accepted);

        Assert.Equal(TickRejectReason.Duplicate, validator.Validate(first, Now).Reason);
        Assert.Equal(TickRejectReason.OutOfOrder, validator.Validate(first with { Timestamp = first.Timestamp.AddTicks(-1) }, Now).Reason);
        // Same instant, different trade: not a replay. Same instant in another offset is still the same instant.
        Assert.True(validator.Validate(first with { Size = 20m }, Now).Accepted);
        Assert.Equal(
            TickRejectReason.Duplicate,
            validator.Validate(first with { Size = 20m, Timestamp = first.Timestamp.ToOffset(TimeSpan.FromHours(-5)) }, Now).Reason);
    }

    [Theory]
    [InlineData("150", true)]        // +50 % exactly
    [InlineData("150.01", false)]
    [InlineData("50", true)]         // −50 % exactly
    [InlineData("49.99", false)]
    public void PriceJumpFromLastValidPrice(string next, bool accepted)
    {
        var validator = new TickValidator();
        Assert.True(validator.Validate(At(100m, Now.AddSeconds(-1)), Now).Accepted);

        TickVerdict verdict = validator.Validate(At(Dec(next), Now), Now);

        Assert.Equal(accepted ? TickRejectReason.None : TickRejectReason.PriceJump, verdict.Reason);
    }

    [Fact]
    public void OnlyValidTicksUpdateTheLastValidPrice()
    {
        var validator = new TickValidator();
        Assert.True(validator.Validate(At(100m, Now.AddSeconds(-3)), Now).Accepted);
        Assert.Equal(TickRejectReason.PriceJump, validator.Validate(At(160m, Now.AddSeconds(-2)), Now).Reason);

        // −50 % from the valid 100 passes; measured from the refused 160 it would be −69 % and fail.
        Assert.True(validator.Validate(At(50m, Now.AddSeconds(-1)), Now).Accepted);
        // A refused tick's newer timestamp did not become the reference for ordering either.
        Assert.Equal(TickRejectReason.PriceTooLow, validator.Validate(At(0.01m, Now), Now).Reason);
        Assert.True(validator.Validate(At(50m, Now.AddMilliseconds(-500)), Now).Accepted);
    }

    [Theory]
    // Window of 15 × 99 and 15 × 101: median 100, MAD 1, so z = |p − 100| / 1.4826 and z = 6 at p = 108.8956.
    [InlineData("108.8956", true)]
    [InlineData("108.8957", false)]
    [InlineData("91.1044", true)]
    [InlineData("91.1043", false)]
    public void SpikeAgainstRobustZScoreOfRecentValidPrices(string price, bool accepted)
    {
        var validator = new TickValidator();
        FillSpikeWindow(validator);

        TickVerdict verdict = validator.Validate(At(Dec(price), Now), Now);

        Assert.Equal(accepted ? TickRejectReason.None : TickRejectReason.Spike, verdict.Reason);
    }

    [Theory]
    // Near 1e5 a double carries only ~1e-11 absolute precision, so these sit inside the rounding margin and
    // are settled in decimal. Window of 15 × 99,999.97 and 15 × 99,999.99: median 99,999.98, MAD 0.01,
    // limit 6 × 1.4826 × 0.01 = 0.088956.
    [InlineData("100000.068956", true)]
    [InlineData("100000.0689560000001", false)]
    public void SpikeLimitIsExactAtLargeMagnitudes(string price, bool accepted)
    {
        var validator = new TickValidator(new TickRules { MaxPrice = 1_000_000m });
        for (int k = 0; k < TickRules.Default.SpikeWindow; k++)
        {
            Assert.True(validator.Validate(At(k % 2 == 0 ? 99_999.97m : 99_999.99m, Now.AddSeconds(k - 40)), Now).Accepted);
        }

        TickVerdict verdict = validator.Validate(At(Dec(price), Now), Now);

        Assert.Equal(accepted ? TickRejectReason.None : TickRejectReason.Spike, verdict.Reason);
    }

    [Fact]
    public void SustainedMoveIsAcceptedOnceItFillsHalfTheSpikeWindow_IsolatedSpikeIsNot()
    {
        var validator = new TickValidator();
        FillSpikeWindow(validator);

        // Isolated spike: refused, and the next ordinary price is accepted.
        Assert.Equal(TickRejectReason.Spike, validator.Validate(At(120m, Now.AddSeconds(-9)), Now).Reason);
        Assert.True(validator.Validate(At(100m, Now.AddSeconds(-8)), Now).Accepted);

        // A new level at 120 is refused while old prices dominate the window, then accepted.
        int refused = 0;
        while (validator.Validate(At(120m, Now.AddMilliseconds(refused - 7_000)), Now).Reason == TickRejectReason.Spike)
        {
            refused++;
            Assert.True(refused < TickRules.Default.SpikeWindow, "the spike window never adopted the new level");
        }

        Assert.InRange(refused, 1, TickRules.Default.SpikeWindow / 2);
        Assert.Equal(SymbolDataStatus.Suspect, validator.Status(Symbol, Now));
    }

    [Fact]
    public void SpikeDecisionsMatchANaiveDecimalReference()
    {
        // Differential check of the incremental window against re-sorting every time in decimal, on seeded
        // random walks with heavy ties and occasional outliers. Jumps are disabled so that every tick enters
        // the window (accepted or refused as a spike), which makes the reference a plain trailing window.
        var random = new Random(5150);
        int spikes = 0;
        for (int series = 0; series < 200; series++)
        {
            int window = random.Next(3, 13);
            decimal maxZ = new[] { 1m, 2m, 3.5m, 6m }[random.Next(4)];
            var validator = new TickValidator(new TickRules { SpikeWindow = window, SpikeZScore = maxZ, MaxChangePct = 1_000m });
            var history = new List<decimal>();
            decimal level = 100m;
            for (int k = 0; k < 120; k++)
            {
                level = Math.Max(1m, level + random.Next(-2, 3) * 0.05m);
                decimal price = random.Next(20) == 0 ? level * 1.3m : level;
                bool expectedSpike = history.Count >= window && IsSpikeByDefinition(history.GetRange(history.Count - window, window), price, maxZ);

                TickVerdict verdict = validator.Validate(At(price, Now.AddMilliseconds(k - 1_000)), Now);

                Assert.Equal(expectedSpike ? TickRejectReason.Spike : TickRejectReason.None, verdict.Reason);
                history.Add(price);
                spikes += expectedSpike ? 1 : 0;
            }
        }

        Assert.InRange(spikes, 500, 20_000);
    }

    [Fact]
    public void SpikeCheckWaitsForAFullWindow()
    {
        var validator = new TickValidator();
        for (int k = 0; k < TickRules.Default.SpikeWindow - 1; k++)
        {
            Assert.True(validator.Validate(At(k % 2 == 0 ? 99m : 101m, Now.AddSeconds(k - 40)), Now).Accepted);
        }

        Assert.True(validator.Validate(At(120m, Now), Now).Accepted);
    }

    [Fact]
    public void Status_StaleWithoutValidTicks_OkWhenAFreshTickArrives()
    {
        var validator = new TickValidator();
        DateTimeOffset stamp = Now.AddSeconds(-10);

        Assert.Equal(SymbolDataStatus.Stale, validator.Status(Symbol, Now));
        Assert.Equal(TickRejectReason.Stale, validator.Validate(At(100m, Now.AddMinutes(-2)), Now).Reason);
        Assert.Equal(SymbolDataStatus.Stale, validator.Status(Symbol, Now));

        Assert.True(validator.Validate(At(100m, stamp), Now).Accepted);
        Assert.Equal(SymbolDataStatus.Ok, validator.Status(Symbol, Now));
        Assert.Equal(SymbolDataStatus.Ok, validator.Status(Symbol, stamp.AddSeconds(60)));
        Assert.Equal(SymbolDataStatus.Stale, validator.Status(Symbol, stamp.AddSeconds(60).AddMilliseconds(1)));

        DateTimeOffset later = Now.AddMinutes(5);
        Assert.True(validator.Validate(At(100.5m, later), later).Accepted);
        Assert.Equal(SymbolDataStatus.Ok, validator.Status(Symbol, later));
    }

    [Fact]
    public void Status_FlatlineAfterTwentyIdenticalPricesIsSuspect_AndClearsOnMovement()
    {
        var validator = new TickValidator();
        for (int k = 1; k <= 19; k++)
        {
            Assert.True(validator.Validate(At(100m, Now.AddSeconds(k - 30)), Now).Accepted);
        }

        Assert.Equal(SymbolDataStatus.Ok, validator.Status(Symbol, Now));

        Assert.True(validator.Validate(At(100m, Now.AddSeconds(-10)), Now).Accepted);
        Assert.Equal(SymbolDataStatus.Suspect, validator.Status(Symbol, Now));

        Assert.True(validator.Validate(At(100.01m, Now.AddSeconds(-9)), Now).Accepted);
        Assert.Equal(SymbolDataStatus.Ok, validator.Status(Symbol, Now));
    }

    [Fact]
    public void Status_MoreAnomaliesThanAllowedInTheWindowIsSuspect_UntilTheyAgeOut()
    {
        var validator = new TickValidator();
        Assert.True(validator.Validate(At(100m, Now.AddSeconds(-10)), Now).Accepted);

        for (int k = 1; k <= 3; k++)
        {
            Assert.Equal(TickRejectReason.PriceJump, validator.Validate(At(200m, Now.AddSeconds(-10 + k)), Now).Reason);
        }

        Assert.Equal(SymbolDataStatus.Ok, validator.Status(Symbol, Now));

        Assert.Equal(TickRejectReason.PriceJump, validator.Validate(At(200m, Now.AddSeconds(-5)), Now).Reason);
        Assert.Equal(SymbolDataStatus.Suspect, validator.Status(Symbol, Now));

        // The first of the four anomalies leaves the 5-minute window once now passes it by more than 5 minutes.
        DateTimeOffset later = Now.AddMinutes(5);
        Assert.True(validator.Validate(At(101m, later), later).Accepted);
        Assert.Equal(SymbolDataStatus.Suspect, validator.Status(Symbol, later));
        Assert.Equal(SymbolDataStatus.Ok, validator.Status(Symbol, later.AddTicks(1)));
    }

    [Theory]
    [InlineData(5_000, TickAnomaly.None)]   // ExpectedCadence 1 s × GapMultiple 5: exactly at the limit is no gap
    [InlineData(5_001, TickAnomaly.Gap)]
    public void GapIsReportedOnTheTickAfterIt(int intervalMilliseconds, TickAnomaly expected)
    {
        var validator = new TickValidator();
        DateTimeOffset first = Now.AddSeconds(-30);
        Assert.True(validator.Validate(At(100m, first), Now).Accepted);

        TickVerdict verdict = validator.Validate(At(100.5m, first.AddMilliseconds(intervalMilliseconds)), Now);

        Assert.True(verdict.Accepted);
        Assert.Equal(expected, verdict.Anomaly);
    }

    [Fact]
    public void FlatlineIsReportedOnTheTickCompletingTheRun()
    {
        var validator = new TickValidator();
        for (int k = 1; k < TickRules.Default.FlatlineCount; k++)
        {
            Assert.Equal(TickAnomaly.None, validator.Validate(At(100m, Now.AddSeconds(k - 30)), Now).Anomaly);
        }

        Assert.Equal(TickAnomaly.Flatline, validator.Validate(At(100m, Now.AddSeconds(-5)), Now).Anomaly);
        // Reported once per run, not on every further identical price.
        Assert.Equal(TickAnomaly.None, validator.Validate(At(100m, Now.AddSeconds(-4)), Now).Anomaly);
    }

    [Theory]
    [InlineData(TickRejectReason.CrossedQuote, true)]
    [InlineData(TickRejectReason.Negative, true)]
    [InlineData(TickRejectReason.PriceTooLow, true)]
    [InlineData(TickRejectReason.FutureTimestamp, true)]
    [InlineData(TickRejectReason.Duplicate, false)]
    [InlineData(TickRejectReason.OutOfOrder, false)]
    [InlineData(TickRejectReason.Stale, false)]
    public void ABurstOfAberrantRefusalsMakesTheSymbolSuspect_LateOrRepeatedDeliveryDoesNot(TickRejectReason reason, bool suspect)
    {
        var validator = new TickValidator();
        Tick valid = At(100m, Now.AddSeconds(-2), bid: 99.9m, ask: 100.1m);
        Assert.True(validator.Validate(valid, Now).Accepted);
        Tick bad = reason switch
        {
            TickRejectReason.CrossedQuote => At(100m, Now, bid: 100.2m, ask: 100.1m),
            TickRejectReason.Negative => At(-100m, Now),
            TickRejectReason.PriceTooLow => At(0.01m, Now),
            TickRejectReason.FutureTimestamp => At(100m, Now.AddSeconds(3)),
            TickRejectReason.Duplicate => valid,
            TickRejectReason.OutOfOrder => valid with { Timestamp = valid.Timestamp.AddMilliseconds(-1) },
            _ => At(100m, Now.AddMinutes(-2)),
        };

        for (int k = 0; k <= TickRules.Default.MaxAnomaliesInWindow; k++)
        {
            Assert.Equal(reason, validator.Validate(bad, Now).Reason);
        }

        Assert.Equal(suspect ? SymbolDataStatus.Suspect : SymbolDataStatus.Ok, validator.Status(Symbol, Now));
    }

    [Fact]
    public void Reset_ForgetsTheSymbolSoAGenuineRepricingCanBeAccepted()
    {
        var validator = new TickValidator();
        Assert.True(validator.Validate(At(100m, Now.AddSeconds(-2)), Now).Accepted);
        Assert.Equal(TickRejectReason.PriceJump, validator.Validate(At(300m, Now.AddSeconds(-1)), Now).Reason);

        validator.Reset(Symbol);

        Assert.Equal(SymbolDataStatus.Stale, validator.Status(Symbol, Now));
        Assert.True(validator.Validate(At(300m, Now), Now).Accepted);
    }

    [Fact]
    public void RulesArePerSymbol()
    {
        var validator = new TickValidator(
            rulesBySymbol: new Dictionary<string, TickRules> { ["BRK.A"] = new() { MaxPrice = 1_000_000m } });

        Assert.True(validator.Validate(At(600_000m, Now) with { Symbol = "BRK.A" }, Now).Accepted);
        Assert.Equal(TickRejectReason.PriceTooHigh, validator.Validate(At(600_000m, Now), Now).Reason);
    }

    [Fact]
    public void SymbolsAreIndependent()
    {
        var validator = new TickValidator();
        Assert.True(validator.Validate(At(100m, Now.AddSeconds(-1)), Now).Accepted);

        Assert.True(validator.Validate(At(300m, Now) with { Symbol = "MSFT" }, Now).Accepted);
        Assert.Equal(SymbolDataStatus.Ok, validator.Status("MSFT", Now));
    }

    [Fact]
    public void InconsistentRulesAndMissingSymbolAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new TickValidator(new TickRules { MinPrice = 10m, MaxPrice = 5m }));
        Assert.Throws<ArgumentException>(() => new TickValidator(new TickRules { SpikeWindow = 2 }));
        Assert.Throws<ArgumentException>(() => new TickValidator(new TickRules { SpikeWindow = 10_001 }));
        Assert.Throws<ArgumentException>(() => new TickValidator(
            rulesBySymbol: new Dictionary<string, TickRules> { ["X"] = new() { MaxAge = TimeSpan.Zero } }));
        Assert.Throws<ArgumentException>(() => new TickValidator().Validate(At(100m, Now) with { Symbol = "" }, Now));
    }

    [Theory]
    [InlineData(double.NaN, 100.0)]
    [InlineData(double.PositiveInfinity, 100.0)]
    [InlineData(100.0, double.NegativeInfinity)]
    [InlineData(1e30, 100.0)]
    public void NonFiniteInputsAreRefusedBeforeBecomingTicks(double price, double bid)
    {
        bool created = Tick.TryFromDoubles(Symbol, price, bid, 101.0, null, Now, out _, out TickVerdict rejection);

        Assert.False(created);
        Assert.False(rejection.Accepted);
        Assert.Equal(TickRejectReason.NonFinite, rejection.Reason);
    }

    [Fact]
    public void FiniteDoublesBecomeDecimalTicks()
    {
        bool created = Tick.TryFromDoubles(Symbol, 101.25, 101.2, 101.3, null, Now, out Tick tick, out TickVerdict verdict);

        Assert.True(created);
        Assert.True(verdict.Accepted);
        Assert.Equal(new Tick(Symbol, 101.25m, 101.2m, 101.3m, null, Now), tick);
    }

    private static bool IsSpikeByDefinition(List<decimal> window, decimal price, decimal maxZScore)
    {
        decimal median = MedianOf(window);
        decimal mad = MedianOf(window.Select(p => Math.Abs(p - median)).ToList());
        return mad != 0 && Math.Abs(price - median) > maxZScore * 1.4826m * mad;
    }

    private static decimal MedianOf(List<decimal> values)
    {
        List<decimal> sorted = values.Order().ToList();
        int half = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2;
    }

    private static void FillSpikeWindow(TickValidator validator)
    {
        for (int k = 0; k < TickRules.Default.SpikeWindow; k++)
        {
            Assert.True(validator.Validate(At(k % 2 == 0 ? 99m : 101m, Now.AddSeconds(k - 40)), Now).Accepted);
        }
    }

    private static decimal Dec(string text) => decimal.Parse(text, System.Globalization.CultureInfo.InvariantCulture);

    private static Tick At(decimal price, DateTimeOffset timestamp, decimal? bid = null, decimal? ask = null, decimal? size = null) =>
        new(Symbol, price, bid, ask, size, timestamp);
}
