using System.Text;
using Portal.Domain.Audit;

namespace Portal.Tests.Domain.Audit;

public sealed class AuditExportVerifierTests : IDisposable
{
    // An export of seqs 101..300 out of a longer chain, with checkpoints inside it.
    private static readonly List<AuditRecord> Chain = AuditFixtures.Chain(300);
    private static readonly List<AuditRecord> Exported = Chain.Skip(100).ToList();

    private const string Origin = "test.example/audit";

    private readonly CheckpointSigner signer = CheckpointSigner.Generate();
    private readonly string publicKeyPem;

    public AuditExportVerifierTests()
    {
        publicKeyPem = signer.ExportPublicKeyPem();
    }

    public void Dispose() => signer.Dispose();

    [Fact]
    public void A_good_export_verifies()
    {
        var result = Verify(Lines(Exported), Manifest(Exported, 150, 300));

        Assert.True(result.Ok, result.Problem);
        Assert.Equal(200, result.LinesVerified);
        Assert.Null(result.FirstBadLine);
        Assert.Equal(2, result.CheckpointsVerified);
    }

    [Fact]
    public void Lines_have_the_documented_shape()
    {
        var record = Exported[0];

        var line = Lines([record])[0];

        Assert.Equal(
            $"{{\"seq\":101,\"hash\":\"{Convert.ToHexStringLower(record.Hash)}\",\"prev\":\"{Convert.ToHexStringLower(record.PrevHash)}\",\"canonical\":\"{Convert.ToBase64String(record.Canonical)}\"}}",
            line);
    }

    [Theory]
    [InlineData("seq")]
    [InlineData("hash")]
    [InlineData("prev")]
    [InlineData("canonical")]
    [InlineData("syntax")]
    public void A_one_byte_edit_is_named_by_its_line(string where)
    {
        var lines = Lines(Exported);
        var line = lines[136];
        var index = where switch
        {
            "seq" => line.IndexOf("\"seq\":", StringComparison.Ordinal) + 7,
            "hash" => line.IndexOf("\"hash\":\"", StringComparison.Ordinal) + 20,
            "prev" => line.IndexOf("\"prev\":\"", StringComparison.Ordinal) + 20,
            "canonical" => line.IndexOf("\"canonical\":\"", StringComparison.Ordinal) + 13 + 100,
            _ => line.IndexOf(',', StringComparison.Ordinal),
        };
        lines[136] = line[..index] + OtherCharOfSameKind(line[index]) + line[(index + 1)..];

        var result = Verify(lines, Manifest(Exported, 150, 300));

        Assert.False(result.Ok);
        Assert.Equal(137, result.FirstBadLine);
        Assert.Equal(136, result.LinesVerified);
        Assert.Contains("on line 137", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_one_byte_edit_of_a_line_is_caught_on_that_line()
    {
        var lines = Lines(Exported);
        var original = lines[41];
        var manifest = Manifest(Exported, 150, 300);
        var lastBase64Digit = original.TrimEnd('}').TrimEnd('"').TrimEnd('=').Length - 1;

        for (var i = 0; i < original.Length; i++)
        {
            // The last base64 digit may carry unused bits, and changing only those changes no byte.
            if (i == lastBase64Digit)
            {
                continue;
            }

            lines[41] = original[..i] + OtherCharOfSameKind(original[i]) + original[(i + 1)..];
            var result = Verify(lines, manifest);

            Assert.False(result.Ok, $"edit at {i} went unnoticed");
            Assert.Equal(42, result.FirstBadLine);
        }
    }

    [Fact]
    public void A_deleted_line_breaks_the_link_of_the_line_after_it()
    {
        var lines = Lines(Exported);
        lines.RemoveAt(9);

        var result = Verify(lines, Manifest(Exported));

        Assert.False(result.Ok);
        Assert.Equal(10, result.FirstBadLine);
        Assert.StartsWith(AuditProblem.BrokenLink, result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_consistently_rewritten_export_fails_at_the_checkpoint_line()
    {
        var forged = AuditFixtures.RewriteFrom(Chain, 180, note: "forged").Skip(100).ToList();
        var genuineManifest = Manifest(Exported, 150, 300);
        var forgedManifest = new AuditExportManifest(
            101, 300, 200, forged[0].Hash, forged[^1].Hash, genuineManifest.Checkpoints, genuineManifest.PublicKeyId);

        var result = Verify(Lines(forged), forgedManifest);

        Assert.False(result.Ok);
        Assert.Equal(200, result.FirstBadLine);
        Assert.StartsWith($"{AuditProblem.CheckpointMismatch} at seq 300", result.Problem, StringComparison.Ordinal);
        Assert.Equal(1, result.CheckpointsVerified);
    }

    [Fact]
    public void Manifest_count_and_ends_must_match_the_file()
    {
        var lines = Lines(Exported);
        var manifest = Manifest(Exported);
        var wrongCount = new AuditExportManifest(101, 300, 201, manifest.FirstHash, manifest.LastHash, [], manifest.PublicKeyId);
        var wrongLast = new AuditExportManifest(101, 300, 200, manifest.FirstHash, manifest.FirstHash, [], manifest.PublicKeyId);
        var wrongFirst = new AuditExportManifest(101, 300, 200, manifest.LastHash, manifest.LastHash, [], manifest.PublicKeyId);

        var countResult = Verify(lines, wrongCount);
        var lastResult = Verify(lines, wrongLast);
        var firstResult = Verify(lines, wrongFirst);

        Assert.False(countResult.Ok);
        Assert.Null(countResult.FirstBadLine);
        Assert.Contains("count", countResult.Problem, StringComparison.Ordinal);
        Assert.False(lastResult.Ok);
        Assert.Null(lastResult.FirstBadLine);
        Assert.False(firstResult.Ok);
        Assert.Equal(1, firstResult.FirstBadLine);
    }

    [Fact]
    public void A_tampered_checkpoint_signature_or_another_key_is_refused()
    {
        var manifest = Manifest(Exported, 150);
        var checkpoint = manifest.Checkpoints[0];
        var tampered = new AuditExportManifest(
            manifest.From, manifest.To, manifest.Count, manifest.FirstHash, manifest.LastHash,
            [new SignedCheckpoint(checkpoint.Seq, Exported[0].Hash, checkpoint.Time, checkpoint.Signature)], manifest.PublicKeyId);
        using var otherSigner = CheckpointSigner.Generate();

        var tamperedResult = Verify(Lines(Exported), tampered);
        using var otherKey = CheckpointVerifier.FromPublicKeyPem(otherSigner.ExportPublicKeyPem());
        var otherKeyResult = AuditExportVerifier.Verify(new StringReader(string.Join('\n', Lines(Exported))), manifest, [otherKey]);

        Assert.StartsWith($"{AuditProblem.CheckpointSignatureInvalid} at seq 150", tamperedResult.Problem, StringComparison.Ordinal);
        Assert.Null(tamperedResult.FirstBadLine);
        Assert.StartsWith("public key id mismatch", otherKeyResult.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_checkpoint_whose_line_is_missing_is_reported()
    {
        var lines = Lines(Exported);
        lines.RemoveAt(49);

        var result = Verify(lines, Manifest(Exported, 150));

        Assert.False(result.Ok);
        Assert.Equal(50, result.FirstBadLine);
        Assert.StartsWith($"{AuditProblem.MissingRow} for the checkpoint at seq 150", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void The_manifest_round_trips_through_json()
    {
        var manifest = Manifest(Exported, 150, 300);

        var json = manifest.ToJson();
        var result = AuditExportVerifier.Verify(new StringReader(string.Join('\n', Lines(Exported)) + "\n"), manifest.ToSignedNote(signer, Origin), [publicKeyPem]);

        Assert.True(result.Ok, result.Problem);
        Assert.Contains($"\"firstHash\":\"{Convert.ToHexStringLower(Exported[0].Hash)}\"", json, StringComparison.Ordinal);
        Assert.Contains("\"time\":\"2025-03-15T09:26:53.000000Z\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_manifest_is_a_problem_not_a_crash()
    {
        var result = AuditExportVerifier.Verify(new StringReader(""), """{"from":1}""", [publicKeyPem]);

        Assert.False(result.Ok);
        Assert.Null(result.FirstBadLine);
    }

    [Fact]
    public void An_empty_export_with_an_empty_manifest_verifies()
    {
        var manifest = new AuditExportManifest(0, 0, 0, null, null, [], signer.KeyId);

        Assert.True(Verify([], manifest).Ok);
    }

    [Fact]
    public void An_export_whose_last_record_no_checkpoint_covers_fails_unless_allowed_and_the_range_is_named()
    {
        var manifest = Manifest(Exported, 150);

        var strict = Verify(Lines(Exported), manifest);
        var allowed = Verify(Lines(Exported), manifest, allowUnauthenticatedTail: true);

        Assert.False(strict.Ok);
        Assert.Contains("151..300", strict.Problem, StringComparison.Ordinal);
        Assert.True(allowed.Ok, allowed.Problem);
        Assert.Equal((151L, 300L), (allowed.UnauthenticatedFrom!.Value, allowed.UnauthenticatedTo!.Value));
    }

    [Fact]
    public void A_tail_proven_in_a_later_signed_tree_head_verifies_and_a_forged_tail_does_not()
    {
        var exported = Chain.Skip(100).Take(150).ToList();
        var head = TreeHead(300);
        var manifest = WithTreeHead(Manifest(exported, 150), head, Proof(249, 300));
        var forged = AuditFixtures.RewriteFrom(Chain, 240, note: "forged").Skip(100).Take(150).ToList();
        var forgedManifest = WithTreeHead(
            new AuditExportManifest(101, 250, 150, forged[0].Hash, forged[^1].Hash, manifest.Checkpoints, manifest.PublicKeyId), head, Proof(249, 300));

        var genuine = Verify(Lines(exported), manifest);
        var forgery = Verify(Lines(forged), forgedManifest);

        Assert.True(genuine.Ok, genuine.Problem);
        Assert.Null(genuine.UnauthenticatedFrom);
        Assert.False(forgery.Ok);
        Assert.Contains("not covered by a verified checkpoint", forgery.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unsigned_or_edited_manifest_fails()
    {
        var manifest = Manifest(Exported, 150, 300);
        var signed = manifest.ToSignedNote(signer, Origin);
        var edited = signed.Replace("\"count\":200", "\"count\":199", StringComparison.Ordinal);
        using var stranger = CheckpointSigner.Generate();

        Assert.True(AuditExportVerifier.Verify(new StringReader(string.Join('\n', Lines(Exported))), signed, [publicKeyPem]).Ok);
        Assert.Contains("not signed", AuditExportVerifier.Verify(new StringReader(string.Join('\n', Lines(Exported))), manifest.ToJson(), [publicKeyPem]).Problem, StringComparison.Ordinal);
        Assert.Contains("signature is invalid", AuditExportVerifier.Verify(new StringReader(string.Join('\n', Lines(Exported))), edited, [publicKeyPem]).Problem, StringComparison.Ordinal);
        Assert.Contains("not signed by any of the given keys",
            AuditExportVerifier.Verify(new StringReader(string.Join('\n', Lines(Exported))), manifest.ToSignedNote(stranger, Origin), [publicKeyPem]).Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_filtered_export_proves_each_record_in_the_signed_tree_and_nothing_else_passes()
    {
        long[] seqs = [5, 77, 123, 299];
        var head = TreeHead(300);
        var lines = seqs.Select(seq => ProofLine(Chain[(int)seq - 1], head.Seq)).ToList();
        var manifest = new AuditExportManifest(1, 300, seqs.Length, null, null, [], signer.KeyId, AuditExportFormat.ProofsFormat, head, null, "{\"actor\":\"test\"}");

        var good = Verify(lines, manifest);
        var forgedRecord = AuditFixtures.RewriteFrom(Chain, 76, note: "forged")[76];
        var swapped = lines.ToList();
        swapped[1] = AuditExportFormat.FormatProofLine(77, forgedRecord.Hash, forgedRecord.PrevHash, forgedRecord.Canonical, Proof(76, 300));
        var moved = lines.ToList();
        moved[2] = ProofLine(Chain[123], head.Seq).Replace("\"seq\":124", "\"seq\":123", StringComparison.Ordinal);
        using var stranger = CheckpointSigner.Generate();
        var strangerHead = new AuditExportManifest(1, 300, seqs.Length, null, null, [], signer.KeyId, AuditExportFormat.ProofsFormat, TreeHead(300, stranger));

        Assert.True(good.Ok, good.Problem);
        Assert.Equal(4, good.LinesVerified);
        Assert.StartsWith("inclusion proof fails (seq 77)", Verify(swapped, manifest).Problem, StringComparison.Ordinal);
        Assert.False(Verify(moved, manifest).Ok);
        Assert.Contains("unknown key", Verify(lines, strangerHead).Problem, StringComparison.Ordinal);
    }

    /// <summary>A signed tree head over the fixture chain's first <paramref name="size"/> records, as the checkpointer makes it.</summary>
    private SignedCheckpoint TreeHead(int size, CheckpointSigner? by = null)
    {
        var frontier = new MerkleTree.Frontier(0, []);
        foreach (var record in Chain.Take(size)) frontier.Append(MerkleTree.LeafHash(record.Canonical), (_, _, _) => { });
        return (by ?? signer).SignNote(Origin, size, frontier.Root(), Chain[size - 1].Hash, AuditFixtures.Start.AddDays(1));
    }

    private static List<byte[]> Proof(long index, int size)
    {
        var stored = new Dictionary<(int, long), byte[]>();
        var frontier = new MerkleTree.Frontier(0, []);
        foreach (var record in Chain.Take(size)) frontier.Append(MerkleTree.LeafHash(record.Canonical), (level, i, hash) => stored[(level, i)] = hash);
        return MerkleTree.InclusionProof(index, size, (level, i) => stored[(level, i)]);
    }

    private static string ProofLine(AuditRecord record, long treeSize) =>
        AuditExportFormat.FormatProofLine(record.Seq, record.Hash, record.PrevHash, record.Canonical, Proof(record.Seq - 1, (int)treeSize));

    private static AuditExportManifest WithTreeHead(AuditExportManifest m, SignedCheckpoint head, List<byte[]> tailProof) =>
        new(m.From, m.To, m.Count, m.FirstHash, m.LastHash, m.Checkpoints, m.PublicKeyId, AuditExportFormat.JsonlFormat, head, tailProof);

    private ExportVerificationResult Verify(List<string> lines, AuditExportManifest manifest, bool allowUnauthenticatedTail = false)
    {
        using var key = CheckpointVerifier.FromPublicKeyPem(publicKeyPem);
        return AuditExportVerifier.Verify(new StringReader(string.Join('\n', lines)), manifest, [key], allowUnauthenticatedTail);
    }

    private static List<string> Lines(IEnumerable<AuditRecord> records) =>
        records.Select(r => AuditExportFormat.FormatLine(AuditRow.FromRecord(r))).ToList();

    private AuditExportManifest Manifest(List<AuditRecord> records, params long[] checkpointSeqs) => new(
        records[0].Seq,
        records[^1].Seq,
        records.Count,
        records[0].Hash,
        records[^1].Hash,
        checkpointSeqs.Select(seq => signer.Sign(seq, records.Single(r => r.Seq == seq).Hash, AuditFixtures.Start.AddDays(1))).ToList(),
        signer.KeyId);

    private static char OtherCharOfSameKind(char c) => c switch
    {
        >= '0' and <= '8' => (char)(c + 1),
        '9' => '0',
        >= 'a' and <= 'y' => (char)(c + 1),
        'z' => 'a',
        >= 'A' and <= 'Y' => (char)(c + 1),
        'Z' => 'A',
        _ => 'x',
    };
}
