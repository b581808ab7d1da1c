namespace Portal.Domain.Orders;

/// <summary>What the venue accepts for one symbol: how finely quantities and prices may be expressed.</summary>
public sealed record SymbolSpec(string Symbol, int QuantityDecimals, int PriceDecimals)
{
    public static int DecimalPlaces(decimal value) => (decimal.GetBits(value)[3] >> 16) & 0xFF;

    public bool QuantityFits(decimal quantity) => DecimalPlaces(quantity.Normalize()) <= QuantityDecimals;

    public bool PriceFits(decimal price) => DecimalPlaces(price.Normalize()) <= PriceDecimals;
}

file static class DecimalExtensions
{
    // Strips trailing zeros so "10.50" counts as two places and "100.000" as zero.
    public static decimal Normalize(this decimal value) => value / 1.000000000000000000000000000000000m;
}
