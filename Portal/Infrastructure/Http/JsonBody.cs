using System.Buffers;
using System.Text.Json;

namespace Portal.Infrastructure.Http;

/// <summary>
/// Reads a small JSON object body by hand, so every problem names its field (model binding only
/// says "bad request"). Bodies over the cap, invalid or deeply nested JSON are refused as "body".
/// </summary>
public sealed class JsonBody : IDisposable
{
    private readonly JsonDocument? _document;

    private JsonBody(JsonDocument? document, Dictionary<string, string[]> errors)
    {
        _document = document;
        Errors = errors;
    }

    public Dictionary<string, string[]> Errors { get; }

    public bool IsValid => Errors.Count == 0;

    public static async Task<JsonBody> ReadAsync(HttpRequest request, int maxBytes, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var bytes = await ReadCappedAsync(request, maxBytes, ct);
        if (bytes is null)
        {
            errors["body"] = [$"must be at most {maxBytes} bytes."];
            return new JsonBody(null, errors);
        }
        try
        {
            var document = JsonDocument.Parse(bytes.Value, new JsonDocumentOptions { MaxDepth = 8 });
            if (document.RootElement.ValueKind != JsonValueKind.Object) errors["body"] = ["must be a JSON object."];
            else if (!IsValidText(document.RootElement)) errors["body"] = ["contains a string that is not valid Unicode (a lone surrogate escape)."];
            return new JsonBody(document, errors);
        }
        catch (JsonException ex)
        {
            errors["body"] = [$"is not valid JSON ({ex.Message})."];
            return new JsonBody(null, errors);
        }
    }

    public JsonElement Root => _document!.RootElement;

    /// <summary>A string field; null (with an error recorded when required) if absent or of another type.</summary>
    public string? String(string name, bool required, int maxLength = 500)
    {
        if (!IsObject || !Root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required) Errors[name] = ["is required."];
            return null;
        }
        if (value.ValueKind != JsonValueKind.String)
        {
            Errors[name] = ["must be a string."];
            return null;
        }
        var text = value.GetString()!.Trim();
        if (text.Length == 0 && required) Errors[name] = ["must not be empty."];
        else if (text.Length > maxLength) Errors[name] = [$"must be at most {maxLength} characters."];
        else if (text.Any(char.IsControl)) Errors[name] = ["must not contain control characters."];
        else return text.Length == 0 ? null : text;
        return null;
    }

    /// <summary>A required free-text reason (see <see cref="ReasonText"/>); null with an error recorded if it breaks the rule.</summary>
    public string? Reason(string name = "reason")
    {
        var text = String(name, required: true, ReasonText.MaxLength);
        if (text is null || ReasonText.Problem(text) is not { } problem) return text;
        Errors[name] = [problem];
        return null;
    }

    /// <summary>A string field that must be one of the allowed words; null when absent and optional.</summary>
    public string? OneOf(string name, bool required, params string[] allowed)
    {
        var text = String(name, required, 40);
        if (text is null || allowed.Contains(text, StringComparer.Ordinal)) return text;
        Errors[name] = [$"must be one of {string.Join(", ", allowed.Select(a => $"'{a}'"))}."];
        return null;
    }

    /// <summary>
    /// JSON allows escapes like "\ud800" that no string can hold; reading one throws, so such a body is refused once
    /// here rather than as a 500 wherever a field is read (found by bench/Portal.Scenarios).
    /// </summary>
    private static bool IsValidText(JsonElement element)
    {
        try
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.String:
                    _ = element.GetString();
                    return true;
                case JsonValueKind.Object:
                    foreach (var property in element.EnumerateObject())
                    {
                        _ = property.Name;
                        if (!IsValidText(property.Value)) return false;
                    }
                    return true;
                case JsonValueKind.Array:
                    foreach (var item in element.EnumerateArray())
                        if (!IsValidText(item)) return false;
                    return true;
                default:
                    return true;
            }
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private bool IsObject => _document is not null && Root.ValueKind == JsonValueKind.Object;

    public void Dispose() => _document?.Dispose();

    private static async Task<ReadOnlyMemory<byte>?> ReadCappedAsync(HttpRequest request, int cap, CancellationToken ct)
    {
        if (request.ContentLength > cap) return null;
        var buffer = new ArrayBufferWriter<byte>(Math.Min(cap + 1, (int)(request.ContentLength ?? 1024) + 1));
        while (true)
        {
            var read = await request.Body.ReadAsync(buffer.GetMemory(4096), ct);
            if (read == 0) return buffer.WrittenMemory;
            buffer.Advance(read);
            if (buffer.WrittenCount > cap) return null;
        }
    }
}
