using Portal.Domain.Audit;

namespace Portal.Tests.Domain.Audit;

/// <summary>The witness's rules (c2sp.org/tlog-witness) over real trees, proofs and signatures.</summary>
public sealed class CheckpointWitnessTests : IDisposable
{
    private const string Origin = "portal.test/audit";
    private const string WitnessName = "witness.test/portal";
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 12, 0, 0, TimeSpan.Zero);

    private readonly CheckpointSigner _log = CheckpointSigner.Generate();
    private readonly CheckpointSigner _witnessKey = CheckpointSigner.Generate();
    private readonly CheckpointVerifier _witnessPublic;
    private readonly CheckpointWitness _witness;

    public CheckpointWitnessTests()
    {
        _witnessPublic = CheckpointVerifier.FromPublicKeyPem(_witnessKey.ExportPublicKeyPem());
        _witness = new CheckpointWitness(WitnessName, _witnessKey,
            new Dictionary<string, CheckpointVerifier> { [Origin] = CheckpointVerifier.FromPublicKeyPem(_log.ExportPublicKeyPem()) });
    }

    public void Dispose()
    {
        _log.Dispose();
        _witnessKey.Dispose();
        _witnessPublic.Dispose();
    }

    /// <summary>A log of <paramref name="count"/> events, the first <paramref name="rewriteFrom"/> as usual and the rest with other contents.</summary>
    private sealed class Log
    {
        private readonly Dictionary<(int, long), byte[]> _subtrees = [];
        private readonly MerkleTree.Frontier _frontier = new(0, []);

        public Log(int count, int rewriteFrom = int.MaxValue)
        {
            for (var i = 0; i < count; i++)
                _frontier.Append(MerkleTree.LeafHash(System.Text.Encoding.UTF8.GetBytes(i < rewriteFrom ? $"event {i}" : $"forged {i}")),
                    (level, index, hash) => _subtrees[(level, index)] = hash);
            Size = count;
        }

        public long Size { get; }

        public byte[] Root => _frontier.Root();

        public List<byte[]> ProofFrom(long oldSize) => MerkleTree.ConsistencyProof(oldSize, Size, (level, index) => _subtrees[(level, index)]);
    }

    private string Note(Log log, CheckpointSigner? signer = null, string origin = Origin) =>
        (signer ?? _log).SignNote(origin, log.Size, log.Root, new byte[32], Now).ToNote();

    private WitnessDecision Add(long oldSize, Log log, WitnessedTree? latest, List<byte[]>? proof = null, string? note = null) =>
        _witness.Decide(new AddCheckpointRequest(oldSize, proof ?? log.ProofFrom(oldSize), note ?? Note(log)), latest, Now);

    private static WitnessedTree Tree(Log log) => new(Origin, log.Size, log.Root);

    [Fact]
    public void The_first_checkpoint_is_cosigned_from_size_0_and_the_cosignature_verifies_only_with_the_witness_key_and_text()
    {
        var log = new Log(10);

        var decision = Add(0, log, latest: null);

        Assert.Equal(200, decision.Status);
        var text = CheckpointNote.Text(decision.Checkpoint!);
        Assert.True(WitnessCosignature.TryVerify(_witnessPublic, WitnessName, text, decision.Cosignature!, out var time));
        Assert.Equal(Now, time);
        Assert.False(WitnessCosignature.TryVerify(_witnessPublic, "someone.else", text, decision.Cosignature!, out _));
        Assert.False(WitnessCosignature.TryVerify(_witnessPublic, WitnessName, text.Replace("\n10\n", "\n11\n"), decision.Cosignature!, out _));
        using var stranger = CheckpointVerifier.FromPublicKeyPem(_log.ExportPublicKeyPem());
        Assert.False(WitnessCosignature.TryVerify(stranger, WitnessName, text, decision.Cosignature!, out _));
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(7, 8)]
    [InlineData(8, 13)]
    [InlineData(100, 1000)]
    [InlineData(1000, 1000)]
    public void A_checkpoint_that_extends_the_cosigned_tree_is_cosigned(int cosigned, int next)
    {
        Assert.Equal(200, Add(cosigned, new Log(next), Tree(new Log(cosigned))).Status);
    }

    [Fact]
    public void An_old_size_other_than_the_cosigned_one_is_a_conflict_naming_the_size()
    {
        var decision = Add(5, new Log(20), Tree(new Log(10)));

        Assert.Equal(409, decision.Status);
        Assert.Equal(10, decision.LatestSize);
    }

    [Theory]
    [InlineData(10, 20, 9)]   // a rewritten tail, re-signed with the log's own key
    [InlineData(10, 20, 0)]   // a wholly different history
    [InlineData(64, 100, 63)]
    public void A_tree_that_rewrote_what_was_cosigned_is_refused_with_422_however_validly_signed(int cosigned, int next, int rewriteFrom)
    {
        var forged = new Log(next, rewriteFrom);

        var decision = Add(cosigned, forged, Tree(new Log(cosigned)), proof: forged.ProofFrom(cosigned));

        Assert.Equal(422, decision.Status);
        Assert.Null(decision.Cosignature);
    }

    [Fact]
    public void The_same_size_with_another_root_is_a_fork()
    {
        var decision = Add(10, new Log(10, rewriteFrom: 3), Tree(new Log(10)));

        Assert.Equal(409, decision.Status);
        Assert.Contains("forked", decision.Detail);
    }

    [Fact]
    public void A_shrunk_log_is_refused()
    {
        Assert.Equal(400, Add(10, new Log(8), Tree(new Log(10)), proof: []).Status);
    }

    [Fact]
    public void Unknown_logs_and_other_keys_signatures_are_refused()
    {
        var log = new Log(4);
        using var thief = CheckpointSigner.Generate();

        Assert.Equal(404, Add(0, log, null, note: Note(log, origin: "other.test/log")).Status);
        Assert.Equal(403, Add(0, log, null, note: Note(log, signer: thief)).Status);
        Assert.Equal(400, Add(0, log, null, note: "not a note\n").Status);
    }

    [Fact]
    public void A_request_body_round_trips_and_malformed_ones_are_rejected()
    {
        var log = new Log(13);
        var request = new AddCheckpointRequest(8, log.ProofFrom(8), Note(log));

        var parsed = AddCheckpointRequest.Parse(request.Format());

        Assert.NotNull(parsed);
        Assert.Equal(8, parsed.OldSize);
        Assert.Equal(request.Proof.Select(Convert.ToBase64String), parsed.Proof.Select(Convert.ToBase64String));
        Assert.Equal(request.Note, parsed.Note);
        Assert.Null(AddCheckpointRequest.Parse("old 08\n\n" + request.Note));
        Assert.Null(AddCheckpointRequest.Parse("old -1\n\n" + request.Note));
        Assert.Null(AddCheckpointRequest.Parse("old 8\nnot base64\n\n" + request.Note));
        Assert.Null(AddCheckpointRequest.Parse("old 8\n" + request.Note));
    }
}
