namespace Portal.Domain.Audit;

/// <summary>
/// How verification reports begin; the full text adds where, e.g. <c>"broken link at seq 42: ..."</c>.
/// </summary>
public static class AuditProblem
{
    /// <summary>SHA-256 of the canonical bytes is not the stored hash: the bytes or the hash were edited.</summary>
    public const string HashMismatch = "hash mismatch";

    /// <summary>The hash is intact but a column (payload, actor, time, ...) no longer says what was hashed.</summary>
    public const string ColumnsDiffer = "row columns differ from canonical bytes";

    /// <summary>The record's prev is not its predecessor's hash: a record was removed, inserted or reordered.</summary>
    public const string BrokenLink = "broken link";

    public const string SeqNotIncreasing = "seq not increasing";

    /// <summary>The chain's hash at a checkpoint's seq is not the signed one: history was rewritten.</summary>
    public const string CheckpointMismatch = "checkpoint mismatch";

    public const string CheckpointSignatureInvalid = "checkpoint signature invalid";

    /// <summary>A checkpoint names a seq that the chain no longer has: records were removed or the chain was truncated.</summary>
    public const string MissingRow = "missing row";
}
