using Portal.Components.Shared;
using Portal.Features.Limits;

namespace Portal.Tests.Components.Shared;

/// <summary>The one formatter of numbers and times people read.</summary>
public sealed class FormatsTests
{
    [Theory]
    [InlineData("1234.56", "$1,234.56")]
    [InlineData("-1234.56", "-$1,234.56")]
    [InlineData("0", "$0.00")]
    [InlineData("-0.004", "$0.00")]
    [InlineData("1000000", "$1,000,000.00")]
    [InlineData("0.5", "$0.50")]
    public void Money_has_a_dollar_sign_two_decimals_and_a_leading_minus(string value, string shown) =>
        Assert.Equal(shown, Formats.Usd(decimal.Parse(value, System.Globalization.CultureInfo.InvariantCulture)));

    [Fact]
    public void Unknown_money_is_a_dash() => Assert.Equal("—", Formats.Usd((decimal?)null));

    [Theory]
    [InlineData("0.10", "10 %")]
    [InlineData("0.15", "15 %")]
    [InlineData("0.0125", "1.25 %")]
    [InlineData("-0.05", "-5 %")]
    [InlineData("1", "100 %")]
    public void Fractions_are_percentages(string fraction, string shown) =>
        Assert.Equal(shown, Formats.Percent(decimal.Parse(fraction, System.Globalization.CultureInfo.InvariantCulture)));

    [Theory]
    [InlineData(60_000, "1 minute")]
    [InlineData(120_000, "2 minutes")]
    [InlineData(1_000, "1 second")]
    [InlineData(45_000, "45 seconds")]
    [InlineData(90_000, "1 minute 30 seconds")]
    [InlineData(5_400_000, "1 hour 30 minutes")]
    [InlineData(86_400_000, "1 day")]
    [InlineData(1_500, "1.5 seconds")]
    [InlineData(250, "250 milliseconds")]
    [InlineData(0, "0 milliseconds")]
    public void Durations_are_in_words(long milliseconds, string shown) =>
        Assert.Equal(shown, Formats.Duration(TimeSpan.FromMilliseconds(milliseconds)));

    [Fact]
    public void A_time_is_24_hour_ISO_in_UTC_with_its_zone_whatever_its_offset()
    {
        var afternoonInNewYork = new DateTimeOffset(2026, 12, 6, 9, 30, 5, TimeSpan.FromHours(-5));

        Assert.Equal("2026-12-06 14:30:05 UTC", Formats.Utc(afternoonInNewYork));
        Assert.Equal("2026-12-06 14:30:05.000 UTC", Formats.UtcPrecise(afternoonInNewYork));
        Assert.Equal("—", Formats.Utc((DateTimeOffset?)null));
    }

    [Theory]
    [InlineData("2026-12-06 14:30", true)]
    [InlineData("  2026-12-06 14:30 UTC ", true)]
    [InlineData("2026-12-06 2:30 PM", false)]
    [InlineData("06/12/2026 14:30", false)]
    [InlineData("2026-12-06T14:30", false)]
    [InlineData("2026-12-06 24:30", false)]
    [InlineData("", false)]
    public void Typed_times_are_yyyy_MM_dd_HH_mm_read_as_UTC(string text, bool valid)
    {
        Assert.Equal(valid, Formats.TryParseUtcInput(text, out var parsed));
        if (valid)
        {
            Assert.Equal(new DateTimeOffset(2026, 12, 6, 14, 30, 0, TimeSpan.Zero), parsed);
            Assert.Equal("2026-12-06 14:30", Formats.UtcInput(parsed));
        }
    }

    [Theory]
    [InlineData("MaxOrderValueUsd", "5000", "$5,000.00")]
    [InlineData("MaxDailyLossUsd", "2000.5", "$2,000.50")]
    [InlineData("MaxPositionPctPortfolio", "0.10", "10 %")]
    [InlineData("PriceCollarPct", "0.05", "5 %")]
    [InlineData("MaxOrderQuantity", "1000", "1,000")]
    [InlineData("MaxLeverage", "1.5", "1.5")]
    public void Limit_values_are_shown_in_their_unit(string name, string value, string shown) =>
        Assert.Equal(shown, LimitText.Value(name, decimal.Parse(value, System.Globalization.CultureInfo.InvariantCulture)));
}
