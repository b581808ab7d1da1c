namespace Portal.Domain.Audit;

/// <summary>
/// A signed statement that the chain's record <see cref="Seq"/> had hash <see cref="Hash"/>. Anyone able to
/// rewrite the database can recompute a consistent chain, but not these signatures, so checkpoints are what
/// pin the history.
/// </summary>
/// <remarks>
/// A checkpoint with an <see cref="Origin"/> is a C2SP signed-note checkpoint (<see cref="CheckpointNote"/>): it also
/// signs the Merkle tree's root over the first <see cref="Seq"/> records, against which inclusion and consistency
/// proofs are checked. One without is a legacy checkpoint, signed before the Merkle tree existed, which pins the
/// chain hash only.
/// </remarks>
public sealed class SignedCheckpoint(long seq, byte[] hash, DateTimeOffset time, string signature, string? origin = null, byte[]? rootHash = null)
{
    /// <summary>The seq of the last record covered; for a note checkpoint also the tree size.</summary>
    public long Seq { get; } = seq;

    /// <summary>The chain hash of record <see cref="Seq"/>.</summary>
    public byte[] Hash { get; } = hash ?? throw new ArgumentNullException(nameof(hash));

    /// <summary>When the checkpoint was signed (UTC, microseconds).</summary>
    public DateTimeOffset Time { get; } = time;

    /// <summary>
    /// Legacy: base64 of the ECDSA P-256/SHA-256 signature in IEEE P1363 form (r ‖ s, 64 bytes). Note: the signature
    /// line's base64, a 4-byte key id followed by the DER ECDSA signature (signed-note type 0x02).
    /// </summary>
    public string Signature { get; } = signature ?? throw new ArgumentNullException(nameof(signature));

    /// <summary>The log's origin line (also the signing key's name); null for a legacy checkpoint.</summary>
    public string? Origin { get; } = origin;

    /// <summary>RFC 9162 root hash of the tree of the first <see cref="Seq"/> records; null for a legacy checkpoint.</summary>
    public byte[]? RootHash { get; } = origin is not null && rootHash is not { Length: MerkleTree.HashSize }
        ? throw new ArgumentException("A note checkpoint needs a 32-byte root hash.", nameof(rootHash))
        : rootHash;

    public bool IsNote => Origin is not null;

    /// <summary>The key id stored beside a legacy checkpoint (its signature names no key); notes name their key themselves.</summary>
    public string? KeyId { get; init; }

    /// <summary>The whole signed note (text, blank line, signature line); only for note checkpoints.</summary>
    public string ToNote() => CheckpointNote.Format(this);
}
