using Npgsql;
using Portal.Domain.Audit;

namespace Portal.Features.Audit;

/// <summary>An event, its RFC 9162 inclusion proof and the signed checkpoint note it proves against (all hashes base64).</summary>
public sealed record AuditInclusionProof(long Seq, long LeafIndex, long TreeSize, string Canonical, string LeafHash, IReadOnlyList<string> Proof, string Checkpoint);

/// <summary>An RFC 9162 consistency proof between two signed checkpoints (hashes base64).</summary>
public sealed record AuditConsistencyProof(long From, long To, IReadOnlyList<string> Proof, string FromCheckpoint, string ToCheckpoint);

/// <summary>Why a proof could not be given; the field it is about, when the request named it.</summary>
public sealed record AuditProofRefusal(int Status, string? Field, string Detail);

/// <summary>
/// Inclusion and consistency proofs against signed checkpoint notes, built from the stored subtree hashes (<see cref="AuditMerkleStore"/>)
/// in one read-only snapshot. Only checkpoints whose signature holds are offered.
/// </summary>
public sealed class AuditProofs(AuditChainStore store, AuditKeys keys)
{
    /// <summary>Proof that event <paramref name="seq"/> is in the tree of checkpoint <paramref name="treeSize"/>, or of the smallest checkpoint covering it.</summary>
    public async Task<(AuditInclusionProof? Proof, AuditProofRefusal? Refusal)> InclusionAsync(long seq, long? treeSize, CancellationToken ct)
    {
        if (treeSize is { } requested && requested < seq)
            return (null, new AuditProofRefusal(400, "treeSize", $"must be at least the event's seq ({seq}): a tree of {requested} events does not hold it."));
        var fromFile = store.ReadFileCheckpoints();
        var (connection, transaction) = await store.OpenSnapshotAsync(ct);
        await using (connection)
        await using (transaction)
        {
            var notes = await SignedNotesAsync(connection, transaction, fromFile, ct);
            var checkpoint = treeSize is { } size ? notes.FirstOrDefault(c => c.Seq == size) : notes.FirstOrDefault(c => c.Seq >= seq);
            if (checkpoint is null)
                return (null, treeSize is null
                    ? new AuditProofRefusal(404, null, $"No signed checkpoint covers seq {seq} yet; checkpoints follow within minutes (at once after a control event).")
                    : new AuditProofRefusal(404, "treeSize", $"There is no signed checkpoint of tree size {treeSize}."));
            byte[]? canonical;
            await using (var read = new NpgsqlCommand("select canonical from audit_events where seq = $1", connection, transaction))
            {
                read.Parameters.AddWithValue(seq);
                canonical = await read.ExecuteScalarAsync(ct) as byte[];
            }
            if (canonical is null) return (null, new AuditProofRefusal(404, null, $"There is no audit event with seq {seq}."));
            var proof = await AuditMerkleStore.ProveAsync(connection, transaction, subtree => MerkleTree.InclusionProof(seq - 1, checkpoint.Seq, subtree), ct);
            if (proof is null) return (null, new AuditProofRefusal(503, null, "The stored Merkle tree is incomplete; the proof cannot be built."));
            return (new AuditInclusionProof(seq, seq - 1, checkpoint.Seq, Convert.ToBase64String(canonical),
                Convert.ToBase64String(MerkleTree.LeafHash(canonical)), proof.ConvertAll(Convert.ToBase64String), checkpoint.ToNote()), null);
        }
    }

    /// <summary>Proof that the checkpoint of size <paramref name="from"/> is a prefix of the checkpoint of size <paramref name="to"/>.</summary>
    public async Task<(AuditConsistencyProof? Proof, AuditProofRefusal? Refusal)> ConsistencyAsync(long from, long to, CancellationToken ct)
    {
        if (from > to) return (null, new AuditProofRefusal(400, "from", $"must not exceed to ({to})."));
        var fromFile = store.ReadFileCheckpoints();
        var (connection, transaction) = await store.OpenSnapshotAsync(ct);
        await using (connection)
        await using (transaction)
        {
            var notes = await SignedNotesAsync(connection, transaction, fromFile, ct);
            var older = notes.FirstOrDefault(c => c.Seq == from);
            if (older is null) return (null, new AuditProofRefusal(404, "from", $"There is no signed checkpoint of tree size {from}."));
            var newer = notes.FirstOrDefault(c => c.Seq == to);
            if (newer is null) return (null, new AuditProofRefusal(404, "to", $"There is no signed checkpoint of tree size {to}."));
            var proof = await AuditMerkleStore.ProveAsync(connection, transaction, subtree => MerkleTree.ConsistencyProof(from, to, subtree), ct);
            if (proof is null) return (null, new AuditProofRefusal(503, null, "The stored Merkle tree is incomplete; the proof cannot be built."));
            return (new AuditConsistencyProof(from, to, proof.ConvertAll(Convert.ToBase64String), older.ToNote(), newer.ToNote()), null);
        }
    }

    /// <summary>The smallest signed checkpoint note covering seq <paramref name="seq"/>, in the caller's snapshot.</summary>
    public async Task<SignedCheckpoint?> CoveringNoteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long seq, CancellationToken ct) =>
        (await SignedNotesAsync(connection, transaction, store.ReadFileCheckpoints(), ct)).FirstOrDefault(c => c.Seq >= seq);

    /// <summary>Signed checkpoint notes (database and file) whose signature holds, by tree size.</summary>
    private async Task<List<SignedCheckpoint>> SignedNotesAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, List<SignedCheckpoint> fromFile, CancellationToken ct) =>
        (await store.ReadCheckpointsAsync(connection, transaction, fromFile, ct))
            .Where(c => c.IsNote && keys.IsValid(c))
            .DistinctBy(c => c.Seq)
            .OrderBy(c => c.Seq)
            .ToList();
}
