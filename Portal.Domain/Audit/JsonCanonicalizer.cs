using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Portal.Domain.Audit;

/// <summary>
/// JSON Canonicalization Scheme, RFC 8785: members sorted by the UTF-16 code units of their names (section 3.2.3),
/// no whitespace (3.2.1), strings with only the mandatory escapes (3.2.2.2) and numbers formatted as ECMAScript
/// does (3.2.2.3), emitted as UTF-8 (3.2.4).
/// </summary>
/// <remarks>
/// Input must be I-JSON (RFC 8785 section 3.1): duplicate member names, numbers outside the finite IEEE-754 double
/// range and strings with lone surrogates throw <see cref="FormatException"/>; malformed JSON throws
/// <see cref="JsonException"/>. Numbers are doubles, as the RFC prescribes: integers beyond 2^53 and decimals with
/// more than ~15 significant digits lose precision, so exact amounts belong in JSON strings.
/// </remarks>
public static class JsonCanonicalizer
{
    /// <summary>Canonicalizes one UTF-8 JSON text.</summary>
    public static byte[] Canonicalize(ReadOnlySpan<byte> utf8Json)
    {
        var reader = new Utf8JsonReader(utf8Json);
        using var document = JsonDocument.ParseValue(ref reader);

        // ParseValue stops after the first value; anything but trailing whitespace makes Read throw.
        if (reader.Read())
        {
            throw new JsonException("Unexpected content after the JSON value.");
        }

        return Canonicalize(document.RootElement);
    }

    public static byte[] Canonicalize(JsonElement element)
    {
        var writer = CanonicalJsonWriter.Rent();
        writer.WriteElement(element);
        return writer.ToArray();
    }

    /// <summary>Canonicalizes a DOM node; a null node is the JSON literal <c>null</c>.</summary>
    public static byte[] Canonicalize(JsonNode? node)
    {
        if (node is null)
        {
            return "null"u8.ToArray();
        }

        var utf8 = new ArrayBufferWriter<byte>();
        using (var jsonWriter = new Utf8JsonWriter(utf8))
        {
            node.WriteTo(jsonWriter);
        }

        return Canonicalize(utf8.WrittenSpan);
    }

    /// <summary>Serializes <paramref name="value"/> with System.Text.Json, then canonicalizes the result.</summary>
    public static byte[] CanonicalizeObject<T>(T value, JsonSerializerOptions? options = null) =>
        Canonicalize(JsonSerializer.SerializeToElement(value, options));

    /// <summary>Writes the canonical form of <paramref name="element"/> to <paramref name="destination"/>.</summary>
    public static void Write(JsonElement element, IBufferWriter<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var writer = CanonicalJsonWriter.Rent();
        writer.WriteElement(element);
        destination.Write(writer.Written);
    }
}
