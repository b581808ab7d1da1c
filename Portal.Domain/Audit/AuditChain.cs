using System.Security.Cryptography;

namespace Portal.Domain.Audit;

/// <summary>
/// Seals audit events into a SHA-256 hash chain. Record <c>n</c> hashes the JCS-canonical (RFC 8785) bytes of
/// <c>{"v":1,"seq":n,"time":"yyyy-MM-ddTHH:mm:ss.ffffffZ","actor":..,"type":..,"subject":..,"payload":..,"prev":"hex"}</c>,
/// where <c>prev</c> is the hash of the record before it, so changing, removing or reordering any stored record
/// breaks every later link.
/// </summary>
public static class AuditChain
{
    public const int FormatVersion = 1;

    public const int HashSize = SHA256.HashSizeInBytes;

    /// <summary>Sequence numbers stay within 2^53 so that JCS (whose numbers are doubles) writes them exactly.</summary>
    public const long MaxSeq = 1L << 53;

    private static readonly byte[] Genesis = new byte[HashSize];

    /// <summary>The "previous hash" of a chain's first record: 32 zero bytes.</summary>
    public static ReadOnlySpan<byte> GenesisHash => Genesis;

    /// <summary>Seals <paramref name="draft"/> as record <paramref name="seq"/> following the record whose hash is <paramref name="prevHash"/>.</summary>
    /// <param name="seq">1 to <see cref="MaxSeq"/>; each record's must exceed its predecessor's (gaps are allowed).</param>
    public static AuditRecord Seal(AuditEventDraft draft, long seq, ReadOnlySpan<byte> prevHash)
    {
        ArgumentNullException.ThrowIfNull(draft);
        ArgumentNullException.ThrowIfNull(draft.Actor, nameof(draft.Actor));
        ArgumentNullException.ThrowIfNull(draft.Type, nameof(draft.Type));
        ArgumentNullException.ThrowIfNull(draft.Subject, nameof(draft.Subject));
        ArgumentOutOfRangeException.ThrowIfLessThan(seq, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(seq, MaxSeq);
        if (prevHash.Length != HashSize)
        {
            throw new ArgumentException($"The previous hash must be {HashSize} bytes.", nameof(prevHash));
        }

        var time = AuditTime.Normalize(draft.Time);
        var writer = CanonicalJsonWriter.Rent();
        var payloadRange = AuditEnvelope.Write(writer, seq, time, draft.Actor, draft.Type, draft.Subject, draft.Payload, prevHash);
        var canonical = writer.ToArray();
        return new AuditRecord(
            seq,
            time,
            draft.Actor,
            draft.Type,
            draft.Subject,
            payloadRange,
            prevHash.ToArray(),
            SHA256.HashData(canonical),
            canonical);
    }
}
