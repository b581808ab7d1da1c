namespace Portal.Domain.Audit;

/// <summary>A sealed audit event: what gets stored, one row per record.</summary>
public sealed class AuditRecord
{
    internal AuditRecord(
        long seq, DateTimeOffset time, string actor, string type, string subject,
        Range payloadRange, byte[] prevHash, byte[] hash, byte[] canonical)
    {
        Seq = seq;
        Time = time;
        Actor = actor;
        Type = type;
        Subject = subject;
        PayloadRange = payloadRange;
        PrevHash = prevHash;
        Hash = hash;
        Canonical = canonical;
    }

    public long Seq { get; }

    /// <summary>The event time as hashed: UTC, truncated to microseconds. Store exactly this value.</summary>
    public DateTimeOffset Time { get; }

    public string Actor { get; }

    public string Type { get; }

    public string Subject { get; }

    /// <summary>The payload's canonical JSON (UTF-8), ready for a jsonb column.</summary>
    /// <remarks>Copied out of <see cref="Canonical"/> on first use: storing the record needs only <see cref="PayloadRange"/>.</remarks>
    public byte[] Payload => field ??= Canonical[PayloadRange];

    /// <summary>Where the payload's canonical JSON lies within <see cref="Canonical"/>.</summary>
    public Range PayloadRange { get; }

    /// <summary>Hash of the previous record; 32 zero bytes for the first record of a chain.</summary>
    public byte[] PrevHash { get; }

    /// <summary>SHA-256 of <see cref="Canonical"/>.</summary>
    public byte[] Hash { get; }

    public int FormatVersion => AuditChain.FormatVersion;

    /// <summary>The exact bytes that were hashed; keep them, since jsonb does not preserve the payload's bytes.</summary>
    public byte[] Canonical { get; }
}
