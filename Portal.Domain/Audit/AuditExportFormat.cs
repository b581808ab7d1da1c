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

    public static string FormatLine(long seq, ReadOnlySpan<byte> hash, ReadOnlySpan<byte> prevHash, ReadOnlySpan<byte> canonical) =>
        $"{{\"seq\":{seq},\"hash\":\"{Convert.ToHexStringLower(hash)}\",\"prev\":\"{Convert.ToHexStringLower(prevHash)}\",\"canonical\":\"{Convert.ToBase64String(canonical)}\"}}";

    public static string FormatLine(in AuditRow row) => FormatLine(row.Seq, row.Hash, row.PrevHash, row.Canonical);
}
