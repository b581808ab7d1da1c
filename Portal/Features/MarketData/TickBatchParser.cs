using System.Text.Json;
using Portal.Domain.MarketData;
using Portal.Features.Market;

namespace Portal.Features.MarketData;

/// <summary>One entry of a parsed batch: a tick to validate, or a refusal already decided while parsing (NaN, ±∞).</summary>
public readonly record struct ParsedTick(Tick Tick, TickVerdict? Refusal);

/// <summary>
/// Reads <c>{"ticks":[{symbol, price, bid?, ask?, size?, timestamp}, ...], "source"?}</c>. A malformed field is a
/// 400 naming it (<c>ticks[3].price</c>); a well-formed number that no decimal can hold, or the strings
/// <c>"NaN"</c>, <c>"Infinity"</c>, <c>"-Infinity"</c>, is a per-tick refusal (NonFinite), since a feed does send those.
/// </summary>
public static class TickBatchParser
{
    private const int MaxErrorsReported = 20;

    public static (List<ParsedTick>? Ticks, string? Source, Dictionary<string, string[]> Errors) Parse(JsonElement root, int maxBatchSize)
    {
        var errors = new Dictionary<string, string[]>();
        string? source = null;
        if (root.TryGetProperty("source", out var sourceElement) && sourceElement.ValueKind != JsonValueKind.Null)
        {
            source = sourceElement.ValueKind == JsonValueKind.String ? sourceElement.GetString()!.Trim() : null;
            if (source is null || source.Length is 0 or > 40 || !source.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':'))
                errors["source"] = ["must be 1 to 40 characters of letters, digits, '-', '_', '.' or ':'."];
        }
        if (!root.TryGetProperty("ticks", out var array) || array.ValueKind != JsonValueKind.Array)
        {
            errors["ticks"] = ["is required and must be an array."];
            return (null, source, errors);
        }
        var count = array.GetArrayLength();
        if (count == 0) errors["ticks"] = ["must hold at least one tick."];
        else if (count > maxBatchSize) errors["ticks"] = [$"must hold at most {maxBatchSize} ticks (got {count})."];
        if (errors.Count > 0) return (null, source, errors);

        var ticks = new List<ParsedTick>(count);
        var index = 0;
        foreach (var element in array.EnumerateArray())
        {
            if (ParseOne(element, index, errors) is { } tick) ticks.Add(tick);
            if (errors.Count >= MaxErrorsReported) break;
            index++;
        }
        return errors.Count > 0 ? (null, source, errors) : (ticks, source, errors);
    }

    private static ParsedTick? ParseOne(JsonElement element, int index, Dictionary<string, string[]> errors)
    {
        // Field paths are formatted only on error: a valid tick allocates nothing here but its symbol.
        var path = new TickPath(index);
        if (element.ValueKind != JsonValueKind.Object)
        {
            errors[path.ToString()] = ["must be an object."];
            return null;
        }
        var before = errors.Count;
        string? symbol = null;
        if (!element.TryGetProperty("symbol", out var symbolElement) || symbolElement.ValueKind != JsonValueKind.String)
            errors[path + ".symbol"] = ["is required and must be a string."];
        else if (!SymbolCatalog.IsWellFormed(symbol = symbolElement.GetString()!))
            errors[path + ".symbol"] = ["must be 1 to 16 characters of A-Z, 0-9, '.' or '/'."];

        DateTimeOffset timestamp = default;
        if (!element.TryGetProperty("timestamp", out var timeElement) || timeElement.ValueKind != JsonValueKind.String)
            errors[path + ".timestamp"] = ["is required and must be an ISO 8601 string with an offset, e.g. 2026-01-05T14:30:00.123Z."];
        else if (!timeElement.TryGetDateTimeOffset(out timestamp))
            errors[path + ".timestamp"] = ["must be an ISO 8601 date and time with an offset, e.g. 2026-01-05T14:30:00.123Z."];

        var price = Number(element, "price", path, required: true, errors);
        var bid = Number(element, "bid", path, required: false, errors);
        var ask = Number(element, "ask", path, required: false, errors);
        var size = Number(element, "size", path, required: false, errors);
        if (errors.Count > before) return null;

        if ((price.Unrepresentable ?? bid.Unrepresentable ?? ask.Unrepresentable ?? size.Unrepresentable) is not null)
        {
            var (name, text) = price.Unrepresentable is { } p ? ("price", p) : bid.Unrepresentable is { } b ? ("bid", b)
                : ask.Unrepresentable is { } a ? ("ask", a) : ("size", size.Unrepresentable!);
            return new ParsedTick(new Tick(symbol!, 0m, null, null, null, timestamp),
                TickVerdict.Reject(TickRejectReason.NonFinite, $"{name} {text} is not a finite number a decimal can hold"));
        }
        return new ParsedTick(new Tick(symbol!, price.Value!.Value, bid.Value, ask.Value, size.Value, timestamp), null);
    }

    private readonly record struct NumberField(decimal? Value, string? Unrepresentable);

    private readonly record struct TickPath(int Index)
    {
        public override string ToString() => $"ticks[{Index}]";

        public static string operator +(TickPath path, string field) => path.ToString() + field;
    }

    private static NumberField Number(JsonElement element, string name, TickPath path, bool required, Dictionary<string, string[]> errors)
    {
        if (!element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required) errors[$"{path}.{name}"] = ["is required."];
            return default;
        }
        if (value.ValueKind == JsonValueKind.Number)
            return value.TryGetDecimal(out var number) ? new NumberField(number, null) : new NumberField(null, value.GetRawText());
        if (value.ValueKind == JsonValueKind.String && value.GetString() is "NaN" or "Infinity" or "-Infinity")
            return new NumberField(null, value.GetString());
        errors[$"{path}.{name}"] = ["must be a number."];
        return default;
    }
}
