using System.Text.Json;
using System.Text.Json.Serialization;

namespace Portal.Infrastructure.Alpaca;

/// <summary>
/// Alpaca's wire format: snake_case, numbers as JSON strings (read and written with the invariant
/// culture), RFC 3339 timestamps with up to nanosecond precision (System.Text.Json keeps 100 ns).
/// </summary>
public static class AlpacaJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.General)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.WriteAsString,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

public sealed class AlpacaAccount
{
    public required string Id { get; init; }
    public required decimal Cash { get; init; }
    public decimal Equity { get; init; }
    /// <summary>Equity at the previous close: the base of the day's P&amp;L.</summary>
    public decimal LastEquity { get; init; }
}

/// <summary><c>/v2/account/configurations</c>: only the setting Portal uses.</summary>
public sealed class AlpacaAccountConfigurations
{
    /// <summary>While true Alpaca refuses every new order on the account.</summary>
    public bool SuspendTrade { get; init; }
}

/// <summary><c>/v2/stocks/bars/latest</c>: the latest minute bar per symbol; a symbol without one is missing.</summary>
public sealed class AlpacaLatestBars
{
    public Dictionary<string, AlpacaBar> Bars { get; init; } = [];
}

/// <summary>A bar as the market-data API writes it: one-letter names, prices as JSON numbers.</summary>
public sealed class AlpacaBar
{
    [JsonPropertyName("t")] public required DateTimeOffset Time { get; init; }
    [JsonPropertyName("o")] public decimal Open { get; init; }
    [JsonPropertyName("h")] public decimal High { get; init; }
    [JsonPropertyName("l")] public decimal Low { get; init; }
    [JsonPropertyName("c")] public required decimal Close { get; init; }
}

public sealed class AlpacaPosition
{
    public required string Symbol { get; init; }
    /// <summary>Negative for a short position.</summary>
    public required decimal Qty { get; init; }
    public required decimal AvgEntryPrice { get; init; }
}

public sealed class AlpacaOrder
{
    public required string Id { get; init; }
    public required string ClientOrderId { get; init; }
    public required string Symbol { get; init; }
    public required string Side { get; init; }
    public required string Status { get; init; }
    /// <summary>Null when the order was sent by notional value.</summary>
    public decimal? Qty { get; init; }
    public decimal FilledQty { get; init; }
    public decimal? FilledAvgPrice { get; init; }
    public DateTimeOffset? CreatedAt { get; init; }
}

public sealed class AlpacaOrderRequest
{
    public required string Symbol { get; init; }
    public required decimal Qty { get; init; }
    public required string Side { get; init; }
    public required string Type { get; init; }
    public required string TimeInForce { get; init; }
    public decimal? LimitPrice { get; init; }
    public required string ClientOrderId { get; init; }
}

public sealed class AlpacaClock
{
    public bool IsOpen { get; init; }
    public DateTimeOffset NextOpen { get; init; }
    public DateTimeOffset NextClose { get; init; }
}

/// <summary>One entry of a 207 multi-status reply (cancel all orders, close all positions).</summary>
public sealed class AlpacaBatchItem
{
    /// <summary>The order's id (cancel all).</summary>
    public string? Id { get; init; }
    /// <summary>The position's symbol (close all).</summary>
    public string? Symbol { get; init; }
    /// <summary>The HTTP status of this one item.</summary>
    public int Status { get; init; }
    public JsonElement? Body { get; init; }

    public bool Succeeded => Status is >= 200 and < 300;

    /// <summary>The order in a successful item's body, if Alpaca sent one.</summary>
    public AlpacaOrder? Order => Succeeded && Body is { ValueKind: JsonValueKind.Object } body && body.TryGetProperty("id", out _)
        ? body.Deserialize<AlpacaOrder>(AlpacaJson.Options)
        : null;

    /// <summary>Alpaca's message for a failed item.</summary>
    public string Error => Body is { ValueKind: JsonValueKind.Object } body && body.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String
        ? $"{message.GetString()} (HTTP {Status}{(body.TryGetProperty("code", out var code) ? $", code {code}" : "")})"
        : $"HTTP {Status}";
}

public sealed class AlpacaTradeUpdate
{
    public required string Event { get; init; }
    public required AlpacaOrder Order { get; init; }
    /// <summary>This execution's price and quantity (fill and partial_fill).</summary>
    public decimal? Price { get; init; }
    public decimal? Qty { get; init; }
    /// <summary>The position's signed quantity after this execution.</summary>
    public decimal? PositionQty { get; init; }
}
