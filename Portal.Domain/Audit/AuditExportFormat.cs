using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Portal.Domain.Audit;

/// <summary>
/// The JSONL audit export: one record per line, in seq order, each line exactly
/// <c>{"seq":42,"hash":"&lt;64 lowercase hex&gt;","prev":"&lt;64 lowercase hex&gt;","canonical":"&lt;standard base64 of the canonical bytes&gt;"}</c>
/// and a line feed. The verifier accepts these four members in any order but no others, no duplicates and no
/// blank lines; hex must be lowercase so that a record has one spelling. The canonical bytes carry everything
/// else (time, actor, type, subject, payload). An <see cref="AuditExportManifest"/> travels beside the file.
/// </summary>
/// <remarks>
/// A filtered export (<see cref="ProofsFormat"/>) has a fifth member, <c>"proof":["base64",...]</c>: the record's RFC 9162
/// inclusion proof against the manifest's <c>treeHead</c>, since its neighbours (and so its links) are not in the file.
/// </remarks>
public static class AuditExportFormat
{
    public const string JsonlFormat = "jsonl";

    public const string ProofsFormat = "proofs";

    public static string FormatProofLine(long seq, ReadOnlySpan<byte> hash, ReadOnlySpan<byte> prevHash, ReadOnlySpan<byte> canonical, IEnumerable<byte[]> proof) =>
        FormatLine(seq, hash, prevHash, canonical)[..^1] + ",\"proof\":[" + string.Join(',', proof.Select(p => $"\"{Convert.ToBase64String(p)}\"")) + "]}";

    public static string FormatLine(long seq, ReadOnlySpan<byte> hash, ReadOnlySpan<byte> prevHash, ReadOnlySpan<byte> canonical)
    {
        var line = new ArrayBufferWriter<byte>(MaxLineLength(hash.Length, prevHash.Length, canonical.Length));
        WriteLine(line, seq, hash, prevHash, canonical);
        return Encoding.UTF8.GetString(line.WrittenSpan[..^1]);
    }

    /// <summary>
    /// Writes the record's line and its line feed as UTF-8 straight into <paramref name="output"/>: a whole export is
    /// mostly base64 and hex, which this encodes without building a string per line.
    /// </summary>
    public static void WriteLine(IBufferWriter<byte> output, long seq, ReadOnlySpan<byte> hash, ReadOnlySpan<byte> prevHash, ReadOnlySpan<byte> canonical)
    {
        ArgumentNullException.ThrowIfNull(output);
        var line = output.GetSpan(MaxLineLength(hash.Length, prevHash.Length, canonical.Length));
        var at = Put(line, 0, "{\"seq\":"u8);
        seq.TryFormat(line[at..], out var written, default, System.Globalization.CultureInfo.InvariantCulture);
        at = Put(line, at + written, ",\"hash\":\""u8);
        Hex.WriteLower(hash, line[at..]);
        at = Put(line, at + (2 * hash.Length), "\",\"prev\":\""u8);
        Hex.WriteLower(prevHash, line[at..]);
        at = Put(line, at + (2 * prevHash.Length), "\",\"canonical\":\""u8);
        Base64.EncodeToUtf8(canonical, line[at..], out _, out written);
        at = Put(line, at + written, "\"}\n"u8);
        output.Advance(at);
    }

    private static int MaxLineLength(int hashLength, int prevLength, int canonicalLength) =>
        64 + 20 + (2 * (hashLength + prevLength)) + Base64.GetMaxEncodedToUtf8Length(canonicalLength);

    private static int Put(Span<byte> line, int at, ReadOnlySpan<byte> text)
    {
        text.CopyTo(line[at..]);
        return at + text.Length;
    }

    public static string FormatLine(in AuditRow row) => FormatLine(row.Seq, row.Hash, row.PrevHash, row.Canonical);
}
