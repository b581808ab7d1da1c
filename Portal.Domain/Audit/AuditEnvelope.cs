using System.Globalization;
using System.Text.Json;

namespace Portal.Domain.Audit;

/// <summary>
/// The canonical bytes of a chain record. Members are written directly in JCS order (actor, payload, prev, seq,
/// subject, time, type, v: sorted by UTF-16 code units), which is cheaper than building and sorting an object.
/// </summary>
internal static class AuditEnvelope
{
    /// <summary>Writes the envelope and returns where the canonical payload lies within it.</summary>
    public static Range Write(
        CanonicalJsonWriter writer, long seq, DateTimeOffset normalizedTime, string actor, string type, string subject,
        JsonElement payload, ReadOnlySpan<byte> prevHash)
    {
        writer.WriteRaw("{\"actor\":"u8);
        writer.WriteString(actor);
        writer.WriteRaw(",\"payload\":"u8);
        var payloadStart = writer.Length;
        writer.WriteElement(payload);
        var payloadEnd = writer.Length;
        writer.WriteRaw(",\"prev\":\""u8);
        Hex.WriteLower(prevHash, writer.Append(2 * prevHash.Length));
        writer.WriteRaw("\",\"seq\":"u8);
        writer.WriteInteger(seq);
        writer.WriteRaw(",\"subject\":"u8);
        writer.WriteString(subject);
        writer.WriteRaw(",\"time\":\""u8);
        AuditTime.Write(normalizedTime, writer.Append(AuditTime.TextLength));
        writer.WriteRaw("\",\"type\":"u8);
        writer.WriteString(type);
        writer.WriteRaw(",\"v\":1}"u8);
        return payloadStart..payloadEnd;
    }

    /// <summary>
    /// Whether bytes this class wrote carry <paramref name="seq"/> and <paramref name="prevHash"/>. It walks the
    /// envelope's fixed tail backwards from the end, <c>,"prev":"hex","seq":n,"subject":"..","time":"..","type":"..","v":1}</c>,
    /// and compares it with the expected text, so the payload is never parsed and per-row cost stays far below
    /// that of hashing the row.
    /// </summary>
    /// <remarks>
    /// Only the tail's shape is checked, not the payload's. That is enough for links: whatever these bytes say is
    /// pinned by their hash and, through it, by every later record.
    /// </remarks>
    public static bool HasLinkFields(ReadOnlySpan<byte> canonical, long seq, ReadOnlySpan<byte> prevHash)
    {
        var rest = canonical;
        if (!rest.StartsWith("{\"actor\":\""u8)
            || !TrimEnd(ref rest, ",\"v\":1}"u8)
            || !TrimStringEnd(ref rest)
            || !TrimEnd(ref rest, ",\"type\":"u8)
            || !TrimTimeEnd(ref rest)
            || !TrimEnd(ref rest, ",\"time\":"u8)
            || !TrimStringEnd(ref rest)
            || !TrimEnd(ref rest, ",\"subject\":"u8))
        {
            return false;
        }

        if (prevHash.Length != AuditChain.HashSize)
        {
            return false;
        }

        ReadOnlySpan<byte> prevName = ",\"prev\":\""u8;
        ReadOnlySpan<byte> seqName = "\",\"seq\":"u8;
        Span<byte> expected = stackalloc byte[prevName.Length + (2 * AuditChain.HashSize) + seqName.Length + 20];
        prevName.CopyTo(expected);
        var length = prevName.Length;
        Hex.WriteLower(prevHash, expected[length..]);
        length += 2 * AuditChain.HashSize;
        seqName.CopyTo(expected[length..]);
        length += seqName.Length;
        seq.TryFormat(expected[length..], out var seqLength, default, CultureInfo.InvariantCulture);
        return rest.EndsWith(expected[..(length + seqLength)]);
    }

    private static bool TrimEnd(ref ReadOnlySpan<byte> rest, ReadOnlySpan<byte> suffix)
    {
        if (!rest.EndsWith(suffix))
        {
            return false;
        }

        rest = rest[..^suffix.Length];
        return true;
    }

    /// <summary>Removes a JSON string from the end: its opening quote is the first one, going back, not escaped.</summary>
    private static bool TrimStringEnd(ref ReadOnlySpan<byte> rest)
    {
        if (rest.IsEmpty || rest[^1] != '"')
        {
            return false;
        }

        var quote = rest.Length - 1;
        while (true)
        {
            quote = rest[..quote].LastIndexOf((byte)'"');
            if (quote < 0)
            {
                return false;
            }

            // A quote preceded by an odd number of backslashes is an escaped one inside the string.
            var backslashes = quote - rest[..quote].TrimEnd((byte)'\\').Length;
            if (backslashes % 2 == 0)
            {
                rest = rest[..quote];
                return true;
            }
        }
    }

    private static bool TrimTimeEnd(ref ReadOnlySpan<byte> rest)
    {
        const int quotedLength = AuditTime.TextLength + 2;
        if (rest.Length < quotedLength || rest[^1] != '"' || rest[^quotedLength] != '"')
        {
            return false;
        }

        rest = rest[..^quotedLength];
        return true;
    }
}
