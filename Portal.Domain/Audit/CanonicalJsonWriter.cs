using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Unicode;

namespace Portal.Domain.Audit;

/// <summary>
/// Growable UTF-8 buffer that emits RFC 8785 (JCS) canonical JSON. One instance per thread is reused
/// (see <see cref="Rent"/>) so that sealing and verifying do not allocate a buffer per event.
/// </summary>
internal sealed class CanonicalJsonWriter
{
    // Buffers that grew for an unusually large payload are dropped rather than kept per thread forever.
    private const int RetainedCapacityLimit = 1 << 20;

    [ThreadStatic]
    private static CanonicalJsonWriter? threadInstance;

    // Characters that RFC 8785 section 3.2.2.2 requires to be escaped: '"', '\' and U+0000..U+001F.
    private static readonly SearchValues<char> CharsToEscape = SearchValues.Create(
        "\"\\\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f" +
        "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f");

    private static readonly Comparison<Member> OrdinalByName = static (a, b) => string.CompareOrdinal(a.Name, b.Name);

    private static readonly Comparison<JsonProperty> RawNameOrder = static (a, b) =>
        JsonMarshal.GetRawUtf8PropertyName(a).SequenceCompareTo(JsonMarshal.GetRawUtf8PropertyName(b));

    private byte[] buffer = new byte[1024];
    private int length;

    public ReadOnlySpan<byte> Written => buffer.AsSpan(0, length);

    public int Length => length;

    /// <summary>The calling thread's writer, emptied. Callers must finish with it before calling <see cref="Rent"/> again.</summary>
    public static CanonicalJsonWriter Rent()
    {
        var writer = threadInstance;
        if (writer is null || writer.buffer.Length > RetainedCapacityLimit)
        {
            writer = new CanonicalJsonWriter();
            threadInstance = writer;
        }

        writer.length = 0;
        return writer;
    }

    public byte[] ToArray() => Written.ToArray();

    public void WriteByte(byte value)
    {
        EnsureCapacity(1);
        buffer[length++] = value;
    }

    public void WriteRaw(ReadOnlySpan<byte> utf8)
    {
        EnsureCapacity(utf8.Length);
        utf8.CopyTo(buffer.AsSpan(length));
        length += utf8.Length;
    }

    /// <summary>Reserves <paramref name="size"/> bytes and returns them for the caller to fill.</summary>
    public Span<byte> Append(int size)
    {
        EnsureCapacity(size);
        var span = buffer.AsSpan(length, size);
        length += size;
        return span;
    }

    /// <summary>Writes a JSON string per RFC 8785 section 3.2.2.2: only the mandatory escapes, everything else as UTF-8.</summary>
    public void WriteString(ReadOnlySpan<char> value)
    {
        WriteByte((byte)'"');
        while (!value.IsEmpty)
        {
            var next = value.IndexOfAny(CharsToEscape);
            var literal = next < 0 ? value : value[..next];
            WriteUtf8(literal);
            if (next < 0)
            {
                break;
            }

            WriteEscape(value[next]);
            value = value[(next + 1)..];
        }

        WriteByte((byte)'"');
    }

    /// <summary>Writes a finite number as ECMAScript's Number.prototype.toString does (RFC 8785 section 3.2.2.3).</summary>
    public void WriteNumber(double value)
    {
        if (!double.IsFinite(value))
        {
            throw new FormatException("RFC 8785 forbids NaN and Infinity.");
        }

        // Every integer below 2^53 is exact and its shortest round-trip form is its plain digits,
        // so the common case skips the general formatter. This also maps -0 to "0".
        if (Math.Abs(value) < 9007199254740992d && value == Math.Truncate(value))
        {
            WriteInteger((long)value);
            return;
        }

        EcmaScriptNumberFormatter.Write(this, value);
    }

    public void WriteInteger(long value)
    {
        var span = buffer.AsSpan(length);
        if (!value.TryFormat(span, out var written, default, CultureInfo.InvariantCulture))
        {
            EnsureCapacity(20);
            value.TryFormat(buffer.AsSpan(length), out written, default, CultureInfo.InvariantCulture);
        }

        length += written;
    }

    /// <summary>Writes any JSON value canonically: members sorted by UTF-16 code units, no whitespace.</summary>
    public void WriteElement(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                WriteObject(element);
                break;
            case JsonValueKind.Array:
                WriteByte((byte)'[');
                var first = true;
                foreach (var item in element.EnumerateArray())
                {
                    if (!first)
                    {
                        WriteByte((byte)',');
                    }

                    first = false;
                    WriteElement(item);
                }

                WriteByte((byte)']');
                break;
            case JsonValueKind.String:
                WriteStringElement(element);
                break;
            case JsonValueKind.Number:
                if (!element.TryGetDouble(out var number) || !double.IsFinite(number))
                {
                    throw new FormatException($"Number {element.GetRawText()} is not representable as a finite IEEE-754 double.");
                }

                WriteNumber(number);
                break;
            case JsonValueKind.True:
                WriteRaw("true"u8);
                break;
            case JsonValueKind.False:
                WriteRaw("false"u8);
                break;
            case JsonValueKind.Null:
                WriteRaw("null"u8);
                break;
            default:
                throw new ArgumentException("The JSON element has no value.", nameof(element));
        }
    }

    private void WriteObject(JsonElement element)
    {
        var count = element.GetPropertyCount();
        if (count == 0)
        {
            WriteRaw("{}"u8);
            return;
        }

        var properties = ArrayPool<JsonProperty>.Shared.Rent(count);
        try
        {
            var index = 0;
            var plainAsciiNames = true;
            foreach (var property in element.EnumerateObject())
            {
                properties[index++] = property;
                plainAsciiNames &= IsPlainAscii(JsonMarshal.GetRawUtf8PropertyName(property));
            }

            if (plainAsciiNames)
            {
                WriteMembersByRawName(properties.AsSpan(0, count));
            }
            else
            {
                WriteMembersByDecodedName(properties.AsSpan(0, count));
            }
        }
        finally
        {
            ArrayPool<JsonProperty>.Shared.Return(properties, clearArray: true);
        }
    }

    /// <summary>
    /// Names of ASCII without backslashes (nearly all) are already canonical as they stand, and their bytes sort as
    /// their UTF-16 code units do, so they are neither decoded nor allocated.
    /// </summary>
    private void WriteMembersByRawName(Span<JsonProperty> properties)
    {
        properties.Sort(RawNameOrder);
        WriteByte((byte)'{');
        for (var i = 0; i < properties.Length; i++)
        {
            var name = JsonMarshal.GetRawUtf8PropertyName(properties[i]);
            if (i > 0)
            {
                // RFC 8785 section 3.1 requires I-JSON input, which has no duplicate names; after sorting they are adjacent.
                if (name.SequenceEqual(JsonMarshal.GetRawUtf8PropertyName(properties[i - 1])))
                {
                    throw new FormatException($"Duplicate property name \"{properties[i].Name}\".");
                }

                WriteByte((byte)',');
            }

            WriteByte((byte)'"');
            WriteRaw(name);
            WriteRaw("\":"u8);
            WriteElement(properties[i].Value);
        }

        WriteByte((byte)'}');
    }

    private void WriteMembersByDecodedName(Span<JsonProperty> properties)
    {
        var members = ArrayPool<Member>.Shared.Rent(properties.Length);
        try
        {
            for (var i = 0; i < properties.Length; i++)
            {
                members[i] = new Member(DecodeOrReject(properties[i], static p => p.Name), properties[i].Value);
            }

            var sorted = members.AsSpan(0, properties.Length);
            sorted.Sort(OrdinalByName);
            WriteByte((byte)'{');
            for (var i = 0; i < sorted.Length; i++)
            {
                if (i > 0)
                {
                    if (string.Equals(sorted[i].Name, sorted[i - 1].Name, StringComparison.Ordinal))
                    {
                        throw new FormatException($"Duplicate property name \"{sorted[i].Name}\".");
                    }

                    WriteByte((byte)',');
                }

                WriteString(sorted[i].Name);
                WriteByte((byte)':');
                WriteElement(sorted[i].Value);
            }

            WriteByte((byte)'}');
        }
        finally
        {
            ArrayPool<Member>.Shared.Return(members, clearArray: true);
        }
    }

    private static bool IsPlainAscii(ReadOnlySpan<byte> rawName) =>
        System.Text.Ascii.IsValid(rawName) && rawName.IndexOf((byte)'\\') < 0;

    private void WriteStringElement(JsonElement element)
    {
        // A valid UTF-8 JSON string without backslashes holds no character JCS escapes, so its raw bytes are already
        // canonical. The parser does not validate UTF-8 inside strings; decoding below rejects what is invalid.
        var raw = JsonMarshal.GetRawUtf8Value(element);
        if (raw.IndexOf((byte)'\\') < 0 && Utf8.IsValid(raw))
        {
            WriteRaw(raw);
            return;
        }

        WriteString(DecodeOrReject(element, static e => e.GetString()));
    }

    // System.Text.Json reports invalid UTF-8 and escaped lone surrogates ("\ud800") only when a string is decoded.
    private static TText DecodeOrReject<TSource, TText>(TSource source, Func<TSource, TText> decode)
    {
        try
        {
            return decode(source);
        }
        catch (InvalidOperationException e) when (e is not ObjectDisposedException)
        {
            throw new FormatException("Strings must be valid Unicode (RFC 8785 section 3.1): " + e.Message, e);
        }
    }

    private void WriteUtf8(ReadOnlySpan<char> text)
    {
        while (true)
        {
            var status = Utf8.FromUtf16(text, buffer.AsSpan(length), out var read, out var written, replaceInvalidSequences: false);
            length += written;
            switch (status)
            {
                case OperationStatus.Done:
                    return;
                case OperationStatus.DestinationTooSmall:
                    text = text[read..];
                    EnsureCapacity(text.Length * 3);
                    break;
                default:
                    throw new FormatException("Strings must be valid Unicode (RFC 8785 section 3.1): found a lone surrogate.");
            }
        }
    }

    private void WriteEscape(char c)
    {
        switch (c)
        {
            case '"': WriteRaw("\\\""u8); break;
            case '\\': WriteRaw("\\\\"u8); break;
            case '\b': WriteRaw("\\b"u8); break;
            case '\f': WriteRaw("\\f"u8); break;
            case '\n': WriteRaw("\\n"u8); break;
            case '\r': WriteRaw("\\r"u8); break;
            case '\t': WriteRaw("\\t"u8); break;
            default:
                var escape = Append(6);
                "\\u00"u8.CopyTo(escape);
                escape[4] = Hex.LowerDigit(c >> 4);
                escape[5] = Hex.LowerDigit(c & 0xF);
                break;
        }
    }

    private void EnsureCapacity(int extra)
    {
        if (buffer.Length - length >= extra)
        {
            return;
        }

        var required = checked(length + extra);
        var grown = new byte[Math.Max(required, buffer.Length * 2)];
        buffer.AsSpan(0, length).CopyTo(grown);
        buffer = grown;
    }

    private readonly record struct Member(string Name, JsonElement Value);
}
