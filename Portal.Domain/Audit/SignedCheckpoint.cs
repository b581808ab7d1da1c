namespace Portal.Domain.Audit;

/// <summary>
/// A signed statement that the chain's record <see cref="Seq"/> had hash <see cref="Hash"/>. Anyone able to
/// rewrite the database can recompute a consistent chain, but not these signatures, so checkpoints are what
/// pin the history.
/// </summary>
public sealed class SignedCheckpoint(long seq, byte[] hash, DateTimeOffset time, string signature)
{
    public long Seq { get; } = seq;

    public byte[] Hash { get; } = hash ?? throw new ArgumentNullException(nameof(hash));

    /// <summary>When the checkpoint was signed (UTC, microseconds).</summary>
    public DateTimeOffset Time { get; } = time;

    /// <summary>Base64 of the ECDSA P-256/SHA-256 signature in IEEE P1363 form (r ‖ s, 64 bytes).</summary>
    public string Signature { get; } = signature ?? throw new ArgumentNullException(nameof(signature));
}
