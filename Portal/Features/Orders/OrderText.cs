using Portal.Domain.Broker;
using Portal.Domain.Orders;

namespace Portal.Features.Orders;

/// <summary>The wire and database spelling of order enums: lower case, as clients send them.</summary>
public static class OrderText
{
    public static string Format(OrderSide side) => side == OrderSide.Buy ? "buy" : "sell";
    public static string Format(OrderType type) => type == OrderType.Market ? "market" : "limit";
    public static string Format(TimeInForce tif) => tif.ToString().ToLowerInvariant();

    public static string Format(BrokerOrderStatus status) => status switch
    {
        BrokerOrderStatus.New => "new",
        BrokerOrderStatus.PartiallyFilled => "partially_filled",
        BrokerOrderStatus.Filled => "filled",
        BrokerOrderStatus.Canceled => "canceled",
        BrokerOrderStatus.Rejected => "broker_rejected",
        BrokerOrderStatus.Expired => "expired",
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };

    public static bool TryParseSide(string? text, out OrderSide side)
    {
        side = text == "sell" ? OrderSide.Sell : OrderSide.Buy;
        return text is "buy" or "sell";
    }

    public static bool TryParseType(string? text, out OrderType type)
    {
        type = text == "limit" ? OrderType.Limit : OrderType.Market;
        return text is "market" or "limit";
    }

    public static bool TryParseTimeInForce(string? text, out TimeInForce tif)
    {
        tif = text switch { "gtc" => TimeInForce.Gtc, "ioc" => TimeInForce.Ioc, "fok" => TimeInForce.Fok, _ => TimeInForce.Day };
        return text is "day" or "gtc" or "ioc" or "fok";
    }

    public static OrderSide ParseSide(string text) => TryParseSide(text, out var v) ? v : throw new FormatException(text);
    public static OrderType ParseType(string text) => TryParseType(text, out var v) ? v : throw new FormatException(text);
    public static TimeInForce ParseTimeInForce(string text) => TryParseTimeInForce(text, out var v) ? v : throw new FormatException(text);

    public static BrokerOrderStatus ParseBrokerStatus(string text) => text switch
    {
        "new" => BrokerOrderStatus.New,
        "partially_filled" => BrokerOrderStatus.PartiallyFilled,
        "filled" => BrokerOrderStatus.Filled,
        "canceled" => BrokerOrderStatus.Canceled,
        "broker_rejected" => BrokerOrderStatus.Rejected,
        "expired" => BrokerOrderStatus.Expired,
        _ => throw new FormatException(text),
    };
}
