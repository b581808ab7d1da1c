namespace Portal.Domain.Orders;

public enum OrderSide { Buy, Sell }

public enum OrderType { Market, Limit }

public enum TimeInForce { Day, Gtc, Ioc, Fok }

/// <summary>An order as the pre-trade check sees it: already parsed and validated for shape.</summary>
public readonly record struct OrderIntent(
    string StrategyId,
    string Symbol,
    OrderSide Side,
    decimal Quantity,
    OrderType Type,
    decimal? LimitPrice)
{
    public decimal SignedQuantity => Side == OrderSide.Buy ? Quantity : -Quantity;
}
