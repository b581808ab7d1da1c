namespace Portal.Domain.Audit;

public sealed class AuditVerifierOptions
{
    /// <summary>Seq of the last row already verified; 0 starts at the chain's beginning.</summary>
    public long StartSeq { get; init; }

    /// <summary>Hash of row <see cref="StartSeq"/>; required when it is not 0 (the genesis hash is implied then).</summary>
    public byte[]? StartHash { get; init; }

    /// <summary>
    /// Whether to check that each row's columns (time, actor, type, subject, payload) say what its canonical bytes
    /// say. It costs a payload canonicalization per row, which dominates verification time; without it only seq,
    /// prev, hash and links are checked (the chain's integrity, not that of the queryable columns).
    /// </summary>
    public bool CompareColumns { get; init; } = true;

    /// <summary>Signed checkpoints to hold the chain to; those before <see cref="StartSeq"/> are ignored.</summary>
    public IReadOnlyCollection<SignedCheckpoint> Checkpoints { get; init; } = [];

    /// <summary>Checks the checkpoints' signatures; required when there are checkpoints, unless <see cref="SignatureProblem"/> is given.</summary>
    public CheckpointVerifier? CheckpointVerifier { get; init; }

    /// <summary>
    /// Checks a checkpoint's signature against several keys (e.g. every key the log has used, each with its validity):
    /// null when it holds, else why not. Takes precedence over <see cref="CheckpointVerifier"/>.
    /// </summary>
    public Func<SignedCheckpoint, string?>? SignatureProblem { get; init; }
}
