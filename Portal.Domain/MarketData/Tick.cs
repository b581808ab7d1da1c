namespace Portal.Domain.MarketData;

/// <summary>One market-data observation. Prices are decimal so limits compare exactly (0.01 means 0.01).</summary>
/// <param name="Price">Last trade (or reference) price.</param>
/// <param name="Bid">Best bid, when the feed sends quotes.</param>
/// <param name="Ask">Best ask, when the feed sends quotes.</param>
/// <param name="Size">Trade size, when known.</param>
/// <param name="Timestamp">Event time as stamped by the source.</param>
public readonly record struct Tick(
    string Symbol,
    decimal Price,
    decimal? Bid,
    decimal? Ask,
    decimal? Size,
    DateTimeOffset Timestamp)
{
    // (double)decimal.MaxValue rounds up past decimal.MaxValue, so the bound must be exclusive.
    private const double DecimalLimit = 7.9228162514264337593543950335e28;

    /// <summary>
    /// Builds a tick from floating-point fields as parsed by the API layer. NaN, ±∞ and magnitudes beyond
    /// decimal's range cannot be represented and are refused with <see cref="TickRejectReason.NonFinite"/>.
    /// Conversion keeps 15 significant digits, which covers every quoted price.
    /// </summary>
    public static bool TryFromDoubles(
        string symbol,
        double price,
        double? bid,
        double? ask,
        double? size,
        DateTimeOffset timestamp,
        out Tick tick,
        out TickVerdict rejection)
    {
        if (!IsRepresentable(price, "price", out rejection)
            || !IsRepresentable(bid, "bid", out rejection)
            || !IsRepresentable(ask, "ask", out rejection)
            || !IsRepresentable(size, "size", out rejection))
        {
            tick = default;
            return false;
        }

        tick = new Tick(symbol, (decimal)price, (decimal?)bid, (decimal?)ask, (decimal?)size, timestamp);
        return true;
    }

    private static bool IsRepresentable(double? value, string field, out TickVerdict rejection)
    {
        if (value is not { } x || (x > -DecimalLimit && x < DecimalLimit))
        {
            rejection = TickVerdict.Accept;
            return true;
        }

        rejection = TickVerdict.Reject(
            TickRejectReason.NonFinite,
            double.IsFinite(x)
                ? FormattableString.Invariant($"{field} {x:R} is outside the decimal range")
                : FormattableString.Invariant($"{field} is {x:R}"));
        return false;
    }
}
