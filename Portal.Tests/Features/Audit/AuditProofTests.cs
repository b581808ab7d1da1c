using System.Net;
using System.Text.Json;
using Portal.Domain.Audit;
using Portal.Features.Audit;
using Portal.Features.Auth;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Audit;

/// <summary>Inclusion and consistency proofs over HTTP, checked the way an outsider would: with only the public key.</summary>
public sealed class AuditProofTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;
    private HttpClient _client = null!;
    private CheckpointVerifier _key = null!;
    private string _dir = null!;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync();
        _client = await _portal.ClientWithScopesAsync(Scopes.Audit);
        _key = CheckpointVerifier.FromPublicKeyPem(await _portal.CreateClient().GetStringAsync("/api/audit/public-key"));
        _dir = Directory.CreateTempSubdirectory("portal-proofs-").FullName;
    }

    public async Task DisposeAsync()
    {
        _key.Dispose();
        await _portal.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Appends <paramref name="count"/> events and waits until a checkpoint signs the head; returns its seq.</summary>
    private async Task<long> AppendAndCheckpointAsync(int count, int first)
    {
        await _portal.AppendAsync(count, first);
        var head = await _portal.HeadSeqAsync();
        return await _portal.CheckpointAtLeastAsync(head);
    }

    private SignedCheckpoint TrustedNote(string note)
    {
        var checkpoint = CheckpointNote.Parse(note);
        Assert.NotNull(checkpoint);
        Assert.True(_key.Verify(checkpoint), "the checkpoint note is not signed by the published key");
        return checkpoint;
    }

    private static List<byte[]> Hashes(JsonElement array) => array.EnumerateArray().Select(e => Convert.FromBase64String(e.GetString()!)).ToList();

    [Fact]
    public async Task Every_event_has_an_inclusion_proof_against_a_signed_checkpoint()
    {
        var size = await AppendAndCheckpointAsync(40, 1);

        for (var seq = 1L; seq <= size; seq += 7)
        {
            // Without treeSize the smallest covering checkpoint answers (start-up's first limits are checkpointed at once).
            var query = seq % 2 == 0 ? $"?treeSize={size}" : "";
            var proof = await (await _client.GetAsync($"/api/audit/events/{seq}/proof{query}")).JsonAsync();
            var checkpoint = TrustedNote(proof.GetProperty("checkpoint").GetString()!);
            var canonical = Convert.FromBase64String(proof.GetProperty("canonical").GetString()!);
            Assert.True(query.Length == 0 ? checkpoint.Seq >= seq : checkpoint.Seq == size, $"seq {seq} proven in a tree of {checkpoint.Seq}");
            Assert.True(MerkleTree.VerifyInclusion(seq - 1, checkpoint.Seq, MerkleTree.LeafHash(canonical), Hashes(proof.GetProperty("proof")), checkpoint.RootHash),
                $"inclusion of seq {seq}");
            Assert.Contains($"\"seq\":{seq},", System.Text.Encoding.UTF8.GetString(canonical));
        }
    }

    [Fact]
    public async Task Two_checkpoints_are_proven_consistent_and_old_events_prove_against_either()
    {
        var older = await AppendAndCheckpointAsync(13, 1);
        var newer = await AppendAndCheckpointAsync(29, 14);

        var response = await (await _client.GetAsync($"/api/audit/consistency?from={older}&to={newer}")).JsonAsync();
        var first = TrustedNote(response.GetProperty("fromCheckpoint").GetString()!);
        var second = TrustedNote(response.GetProperty("toCheckpoint").GetString()!);
        Assert.True(MerkleTree.VerifyConsistency(older, newer, first.RootHash, second.RootHash, Hashes(response.GetProperty("proof"))));

        var inOlder = await (await _client.GetAsync($"/api/audit/events/3/proof?treeSize={older}")).JsonAsync();
        Assert.Equal(older, TrustedNote(inOlder.GetProperty("checkpoint").GetString()!).Seq);
    }

    [Fact]
    public async Task Only_subtrees_of_16_events_and_more_are_stored_and_planted_small_ones_or_an_edited_event_cannot_make_a_proof_pass()
    {
        var older = await AppendAndCheckpointAsync(21, 1);
        var newer = await AppendAndCheckpointAsync(50, 22);
        Assert.Equal(0, await OrderRequests.ScalarAsync(_portal.AppConnectionString, $"select count(*) from audit_merkle_nodes where level < {AuditMerkleStore.StoredFromLevel}"));
        Assert.True(await OrderRequests.ScalarAsync(_portal.AppConnectionString, $"select count(*) from audit_merkle_nodes where level = {AuditMerkleStore.StoredFromLevel}") >= newer / 16);

        // Rows below the stored levels, as a table written before them or an attacker would leave them: not read.
        await AuditTestKit.ExecAsync(_portal.Superuser(), """
            insert into audit_merkle_nodes (level, idx, hash) select l, i, sha256(convert_to('planted', 'UTF8')) from generate_series(0, 3) l, generate_series(0, 40) i
            """);
        var root = TrustedNote((await (await _client.GetAsync($"/api/audit/events/1/proof?treeSize={newer}")).JsonAsync()).GetProperty("checkpoint").GetString()!).RootHash;
        for (var seq = 1L; seq <= newer; seq++)
        {
            var proof = await (await _client.GetAsync($"/api/audit/events/{seq}/proof?treeSize={newer}")).JsonAsync();
            var canonical = Convert.FromBase64String(proof.GetProperty("canonical").GetString()!);
            Assert.True(MerkleTree.VerifyInclusion(seq - 1, newer, MerkleTree.LeafHash(canonical), Hashes(proof.GetProperty("proof")), root), $"inclusion of seq {seq}");
        }
        var consistency = await (await _client.GetAsync($"/api/audit/consistency?from={older}&to={newer}")).JsonAsync();
        Assert.True(MerkleTree.VerifyConsistency(older, newer, TrustedNote(consistency.GetProperty("fromCheckpoint").GetString()!).RootHash, root,
            Hashes(consistency.GetProperty("proof"))));

        // An event edited after it was signed: its block's small subtrees are computed from it, so its neighbour's proof fails.
        await AuditTestKit.ExecAsync(_portal.Superuser(), """
            alter table audit_events disable trigger audit_events_append_only;
            update audit_events set canonical = overlay(canonical placing '9' from 20 for 1) where seq = 34;
            """);
        var neighbour = await (await _client.GetAsync($"/api/audit/events/33/proof?treeSize={newer}")).JsonAsync();
        Assert.False(MerkleTree.VerifyInclusion(32, newer, MerkleTree.LeafHash(Convert.FromBase64String(neighbour.GetProperty("canonical").GetString()!)),
            Hashes(neighbour.GetProperty("proof")), root));
    }

    [Theory]
    [InlineData("/api/audit/events/5/proof?treeSize=abc", "treeSize")]
    [InlineData("/api/audit/events/5/proof?treeSize=3", "treeSize")]
    [InlineData("/api/audit/consistency?from=x&to=5", "from")]
    [InlineData("/api/audit/consistency?from=5", "to")]
    [InlineData("/api/audit/consistency?from=9&to=5", "from")]
    public async Task A_bad_proof_request_is_a_problem_naming_the_field(string url, string field)
    {
        await AppendAndCheckpointAsync(10, 1);

        var response = await _client.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.JsonAsync()).GetProperty("errors").TryGetProperty(field, out _), await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_tree_size_that_was_never_signed_is_not_found()
    {
        var size = await AppendAndCheckpointAsync(10, 1);

        var response = await _client.GetAsync($"/api/audit/events/2/proof?treeSize={size - 1}");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Proofs_need_the_audit_scope_or_an_audit_reader()
    {
        await AppendAndCheckpointAsync(5, 1);
        var orders = await _portal.ClientWithScopesAsync(Scopes.Orders);

        foreach (var url in new[] { "/api/audit/events/1/proof", "/api/audit/consistency?from=1&to=2" })
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await orders.GetAsync(url)).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await _portal.CreateClient().GetAsync(url)).StatusCode);
        }
    }

    [Fact]
    public async Task A_filtered_export_of_one_actors_events_verifies_offline_with_only_the_public_key()
    {
        await AppendAndCheckpointAsync(60, 1);
        var query = "format=proofs&types=test.even&from=1&to=40";

        var export = await _client.GetAsync("/api/audit/export?" + query);
        Assert.Equal(HttpStatusCode.OK, export.StatusCode);
        var manifest = await _client.GetStringAsync("/api/audit/export/manifest?" + query);
        var paths = (Export: Path.Combine(_dir, "proofs.jsonl"), Manifest: Path.Combine(_dir, "manifest"), Key: Path.Combine(_dir, "key.pem"));
        var lines = (await export.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n');
        await File.WriteAllTextAsync(paths.Export, string.Join('\n', lines) + "\n");
        await File.WriteAllTextAsync(paths.Manifest, manifest);
        await File.WriteAllTextAsync(paths.Key, await _portal.CreateClient().GetStringAsync("/api/audit/public-key"));

        var output = new StringWriter();
        var exit = AuditCli.VerifyExportFile([paths.Export, "--manifest", paths.Manifest, "--public-key", paths.Key], output, output);
        Assert.True(exit == 0, output.ToString());
        Assert.StartsWith($"OK: {lines.Length} lines", output.ToString());
        Assert.True(lines.Length >= 15, $"{lines.Length} even test events among seqs 1..40");

        // One forged record among them: its proof no longer leads to the signed root.
        var forged = JsonDocument.Parse(lines[3]).RootElement;
        var seq = forged.GetProperty("seq").GetInt64();
        var record = AuditChain.Seal(AuditTestKit.Draft((int)seq, "forged"), seq, Convert.FromHexString(forged.GetProperty("prev").GetString()!));
        lines[3] = AuditExportFormat.FormatProofLine(seq, record.Hash, record.PrevHash, record.Canonical, Hashes(forged.GetProperty("proof")));
        await File.WriteAllTextAsync(paths.Export, string.Join('\n', lines) + "\n");
        output = new StringWriter();
        Assert.Equal(1, AuditCli.VerifyExportFile([paths.Export, "--manifest", paths.Manifest, "--public-key", paths.Key], output, output));
        Assert.Contains("inclusion proof fails", output.ToString());
    }
}
