using Portal.Domain.Orders;

namespace Portal.Domain.Risk;

/// <summary>
/// The seed memo's fill model: 5 bps base, plus 10 bps per $100k of order value, plus volatility
/// times 1.5, always against the side. (The memo's sketch divided the size term by 10,000 twice;
/// this follows its stated intent.)
/// </summary>
public sealed record SlippageModel(decimal BaseBps = 5m, decimal BpsPer100kUsd = 10m, decimal VolatilityMultiplier = 1.5m)
{
    public decimal Slippage(decimal orderValueUsd, decimal volatility) =>
        BaseBps / 10_000m + orderValueUsd / 100_000m * BpsPer100kUsd / 10_000m + volatility * VolatilityMultiplier;

    public decimal FillPrice(OrderSide side, decimal price, decimal quantity, decimal volatility)
    {
        var slip = Slippage(Math.Abs(quantity * price), Math.Max(0m, volatility));
        return side == OrderSide.Buy ? price * (1m + slip) : price * (1m - slip);
    }
}
