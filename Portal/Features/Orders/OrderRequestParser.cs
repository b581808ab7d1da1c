using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Portal.Domain.Orders;
using Portal.Features.Broker;
using Portal.Features.Market;

namespace Portal.Features.Orders;

/// <summary>An order request that is well-formed: every field present, typed and within the symbol's precision.</summary>
public sealed record ParsedOrder(string ClientOrderId, OrderIntent Intent, TimeInForce TimeInForce)
{
    /// <summary>Identifies the request's content, so a repeat can be told from a different order reusing the id.</summary>
    public byte[] Hash() => SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('|',
        ClientOrderId, Intent.StrategyId, Intent.Symbol, OrderText.Format(Intent.Side),
        Intent.Quantity.ToString("0.#############################", CultureInfo.InvariantCulture), OrderText.Format(Intent.Type),
        Intent.LimitPrice?.ToString("0.#############################", CultureInfo.InvariantCulture) ?? "", OrderText.Format(TimeInForce))));
}

/// <summary>
/// Parses <c>POST /api/orders</c> by hand rather than by model binding, so every problem names its
/// field precisely (wrong type, unknown enum, too many decimals) and nothing half-parsed goes further.
/// </summary>
public sealed class OrderRequestParser(SymbolCatalog symbols)
{
    public const int MaxBodyBytes = 16 * 1024;
    private const int MaxIdLength = 48;
    private const int MaxStrategyLength = 64;

    public (ParsedOrder? Order, Dictionary<string, string[]> Errors) Parse(JsonElement root)
    {
        var errors = new Dictionary<string, string[]>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
            if (!seen.Add(property.Name)) errors[property.Name] = ["appears more than once."];

        var clientOrderId = Identifier(root, "clientOrderId", MaxIdLength, errors);
        // Portal's own flatten orders carry ids with this prefix; a client's order reusing one would collide with it when written.
        if (clientOrderId?.StartsWith(PaperBroker.ClosingOrderIdPrefix, StringComparison.Ordinal) == true)
        {
            errors["clientOrderId"] = [$"must not start with '{PaperBroker.ClosingOrderIdPrefix}', which Portal reserves for its own closing orders."];
            clientOrderId = null;
        }
        var strategyId = Identifier(root, "strategyId", MaxStrategyLength, errors);
        var symbolText = String(root, "symbol", errors);
        SymbolSpec? spec = null;
        if (symbolText is not null && (spec = symbols.Find(symbolText)) is null) errors["symbol"] = [$"'{Printable(symbolText)}' is not a tradable symbol."];

        var sideText = String(root, "side", errors);
        if (sideText is not null && !OrderText.TryParseSide(sideText, out _)) errors["side"] = ["must be 'buy' or 'sell'."];
        var typeText = String(root, "type", errors);
        if (typeText is not null && !OrderText.TryParseType(typeText, out _)) errors["type"] = ["must be 'market' or 'limit'."];
        var tifText = String(root, "timeInForce", errors);
        if (tifText is not null && !OrderText.TryParseTimeInForce(tifText, out _)) errors["timeInForce"] = ["must be 'day', 'gtc', 'ioc' or 'fok'."];

        var quantity = Decimal(root, "quantity", required: true, errors);
        if (quantity is { } q)
        {
            if (q <= 0m) errors["quantity"] = ["must be greater than zero."];
            else if (!SymbolSpec.IsStorable(q)) errors["quantity"] = [TooLarge];
            else if (spec is not null && !spec.QuantityFits(q)) errors["quantity"] = [$"has more than {spec.QuantityDecimals} decimal places allowed for {spec.Symbol}."];
        }
        var limitPrice = Decimal(root, "limitPrice", required: false, errors);
        OrderText.TryParseType(typeText, out var type);
        if (typeText == "limit" && limitPrice is null && !errors.ContainsKey("limitPrice")) errors["limitPrice"] = ["is required for a limit order."];
        if (typeText == "market" && limitPrice is not null) errors["limitPrice"] = ["must be absent for a market order."];
        if (limitPrice is { } lp && !errors.ContainsKey("limitPrice"))
        {
            if (lp <= 0m) errors["limitPrice"] = ["must be greater than zero."];
            else if (!SymbolSpec.IsStorable(lp)) errors["limitPrice"] = [TooLarge];
            else if (spec is not null && !spec.PriceFits(lp)) errors["limitPrice"] = [$"has more than {spec.PriceDecimals} decimal places allowed for {spec.Symbol}."];
        }
        foreach (var property in root.EnumerateObject())
            if (!KnownFields.Contains(property.Name) && !errors.ContainsKey(property.Name))
                errors[Printable(property.Name)] = ["is not a known field."];

        if (errors.Count > 0) return (null, errors);
        OrderText.TryParseSide(sideText, out var side);
        OrderText.TryParseTimeInForce(tifText, out var tif);
        return (new ParsedOrder(clientOrderId!, new OrderIntent(strategyId!, spec!.Symbol, side, quantity!.Value, type, limitPrice), tif), errors);
    }

    private static readonly string TooLarge = $"must be at most {SymbolSpec.MaxAmount.ToString(CultureInfo.InvariantCulture)}, the largest amount Portal records.";

    private static readonly HashSet<string> KnownFields = new(StringComparer.Ordinal)
        { "clientOrderId", "strategyId", "symbol", "side", "quantity", "type", "limitPrice", "timeInForce" };

    private static string? String(JsonElement root, string name, Dictionary<string, string[]> errors)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            errors[name] = ["is required."];
            return null;
        }
        if (value.ValueKind != JsonValueKind.String)
        {
            errors[name] = [$"must be a string, not {value.ValueKind.ToString().ToLowerInvariant()}."];
            return null;
        }
        return value.GetString();
    }

    private static string? Identifier(JsonElement root, string name, int maxLength, Dictionary<string, string[]> errors)
    {
        var text = String(root, name, errors);
        if (text is null) return null;
        if (text.Length == 0 || text.Length > maxLength || !text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':'))
        {
            errors[name] = [$"must be 1 to {maxLength} characters of A-Z, a-z, 0-9, '-', '_', '.' or ':'."];
            return null;
        }
        return text;
    }

    /// <summary>A JSON number, or a string holding one (as some brokers send). NaN, infinities, exponents beyond decimal's range are refused.</summary>
    private static decimal? Decimal(JsonElement root, string name, bool required, Dictionary<string, string[]> errors)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required) errors[name] = ["is required."];
            return null;
        }
        var ok = value.ValueKind switch
        {
            JsonValueKind.Number => value.TryGetDecimal(out var number) ? number : (decimal?)null,
            JsonValueKind.String => decimal.TryParse(value.GetString(), NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign,
                CultureInfo.InvariantCulture, out var parsed) ? parsed : null,
            _ => null,
        };
        if (ok is null) errors[name] = ["must be a finite decimal number within range."];
        else if (SignificantDigits(value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText()) > MaxSignificantDigits)
        {
            // decimal rounds silently beyond its precision: 1.000...0001 would become 1, not the number that was sent.
            errors[name] = [$"has more than {MaxSignificantDigits} significant digits, which cannot be represented exactly."];
            return null;
        }
        return ok;
    }

    private const int MaxSignificantDigits = 28;

    /// <summary>Digits of the mantissa without leading and trailing zeros ("001.2300e5" has 3).</summary>
    private static int SignificantDigits(string number)
    {
        var mantissa = number.AsSpan().Trim();
        var exponent = mantissa.IndexOfAny('e', 'E');
        if (exponent >= 0) mantissa = mantissa[..exponent];
        int first = -1, last = -1, count = 0;
        for (var i = 0; i < mantissa.Length; i++)
        {
            if (!char.IsAsciiDigit(mantissa[i])) continue;
            if (mantissa[i] != '0')
            {
                if (first < 0) first = count;
                last = count;
            }
            count++;
        }
        return first < 0 ? 0 : last - first + 1;
    }

    /// <summary>Field names and symbols are echoed back; keep control characters out of the reply.</summary>
    private static string Printable(string text)
    {
        var clean = new string(text.Where(c => !char.IsControl(c)).Take(40).ToArray());
        return clean.Length == 0 ? "?" : clean;
    }
}
