namespace Portal.Domain.Orders;

/// <summary>What the venue accepts for one symbol: how finely quantities and prices may be expressed.</summary>
public sealed record SymbolSpec(string Symbol, int QuantityDecimals, int PriceDecimals)
{
    /// <summary>
    /// The largest quantity or price Portal takes for any symbol: the orders and paper broker tables store them as
    /// numeric(28,9), which holds 19 digits before the point (see migrations/0001). Anything larger is refused at the API.
    /// </summary>
    public const decimal MaxAmount = 9_999_999_999_999_999_999.999999999m;

    /// <summary>Within (0, <see cref="MaxAmount"/>]: what the order columns can hold.</summary>
    public static bool IsStorable(decimal amount) => amount is > 0m and <= MaxAmount;

    public static int DecimalPlaces(decimal value) => (decimal.GetBits(value)[3] >> 16) & 0xFF;

    public bool QuantityFits(decimal quantity) => DecimalPlaces(quantity.Normalize()) <= QuantityDecimals;

    public bool PriceFits(decimal price) => DecimalPlaces(price.Normalize()) <= PriceDecimals;
}

file static class DecimalExtensions
{
    // Strips trailing zeros so "10.50" counts as two places and "100.000" as zero.
    public static decimal Normalize(this decimal value) => value / 1.000000000000000000000000000000000m;
}
