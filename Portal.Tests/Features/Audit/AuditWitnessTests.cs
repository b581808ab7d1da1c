using System.Net;
using System.Net.Http.Json;
using System.Text;
using Npgsql;
using Portal.Domain.Audit;
using Portal.Features.Audit;
using Portal.Features.Witness;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Audit;

/// <summary>
/// A witness outside the writer (docs/audit-trail.md): someone who took both the database and the writer's host, with
/// its signing key and checkpoint file, still cannot remove or rewrite a tail the witness cosigned unnoticed.
/// </summary>
public sealed class AuditWitnessTests : IAsyncLifetime
{
    private const long Keep = 90;
    private TestWitness _witness = null!;
    private PortalFactory _portal = null!;

    public async Task InitializeAsync()
    {
        _witness = await TestWitness.StartAsync();
        _portal = await PortalFactory.StartAsync(_witness.PortalSettings);
    }

    public async Task DisposeAsync()
    {
        await _portal.DisposeAsync();
        await _witness.DisposeAsync();
    }

    /// <summary>100 events, a checkpoint of the head, and the witness's cosignature on it; the signed size.</summary>
    private async Task<long> WitnessedChainAsync()
    {
        await _portal.AppendAsync(100);
        var signed = await _portal.CheckpointAtLeastAsync(await _portal.HeadSeqAsync());
        await Poll.UntilAsync(async () => await _witness.CosignedSizeAsync() >= signed, $"the witness cosigned tree size {signed}", TimeSpan.FromSeconds(30));
        return signed;
    }

    [Fact]
    public async Task A_tail_deleted_with_its_checkpoint_rows_and_the_checkpoint_file_is_reported_with_its_range_from_the_witness_copy()
    {
        var signed = await WitnessedChainAsync();

        // As the superuser on the writer's host: the tail, its checkpoint rows and the checkpoint file gone, the head moved back.
        await AuditTestKit.DeleteTailAsync(_portal.Superuser(), Keep);
        await File.WriteAllTextAsync(_portal.CheckpointFile, "");

        foreach (var mode in new[] { AuditVerificationMode.Full, AuditVerificationMode.Incremental })
        {
            var report = await _portal.Get<AuditVerification>().VerifyAsync(mode, CancellationToken.None);
            Assert.False(report.Ok, $"{mode}: the removed tail went unnoticed");
            Assert.Equal(Keep + 1, report.FirstBadSeq);
            Assert.StartsWith(AuditProblem.MissingRow, report.Problem);
            Assert.Contains($"{Keep + 1}..{signed}", report.Problem);
            Assert.Equal($"the witness cosigned through tree size {signed}", report.Witness);
        }
        // And Portal's own submission now fails: the log's newest checkpoint is behind what the witness vouched for.
        Assert.Null(await _portal.Get<AuditWitness>().SubmitLatestAsync(CancellationToken.None));
    }

    [Fact]
    public async Task The_witness_answers_what_it_cosigned_page_by_page_and_verification_reads_every_page()
    {
        // The history grows by a line per checkpoint for as long as the log lives; one answer holding all of it, to anyone
        // who asks without a credential, would grow without bound.
        for (var i = 0; i < 3; i++) await WitnessedChainAsync();
        var origin = "origin=" + Uri.EscapeDataString(TestWitness.Origin);
        // The background checkpointer and submitter keep going: later reads may hold more, never other, records.
        var all = (await _witness.CosignedAsync()).Select(c => c.Size).ToList();
        Assert.True(all.Count >= 3, $"{all.Count} cosigned");

        var first = (await _witness.Http.GetFromJsonAsync<List<CosignedCheckpoint>>($"/cosigned?{origin}&limit=2"))!;
        var rest = (await _witness.Http.GetFromJsonAsync<List<CosignedCheckpoint>>($"/cosigned?{origin}&after={first[^1].Size}"))!;

        Assert.Equal(all.Take(2), first.Select(c => c.Size));
        Assert.Equal(all.Skip(2), rest.Select(c => c.Size).Take(all.Count - 2));
        foreach (var bad in new[] { "limit=0", $"limit={WitnessServer.MaxPage + 1}", "after=-1", "limit=x" })
        {
            using var refused = await _witness.Http.GetAsync($"/cosigned?{origin}&{bad}");
            Assert.True(refused.StatusCode == HttpStatusCode.BadRequest, $"{bad}: {(int)refused.StatusCode}");
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.Contains($"\"{bad.Split('=')[0]}\"", await refused.Content.ReadAsStringAsync());
        }

        var witness = _portal.Get<AuditWitness>();
        witness.CosignedPageSize = 1;
        var read = await witness.ReadCosignedAsync(CancellationToken.None);
        Assert.Equal(all, read.Checkpoints.Select(c => c.Seq).Take(all.Count));
    }

    [Fact]
    public async Task A_rewritten_tail_signed_with_the_stolen_log_key_is_refused_by_the_witness()
    {
        var signed = await WitnessedChainAsync();
        var leaves = await CanonicalAsync(Keep);
        for (var seq = Keep + 1; seq <= signed + 5; seq++) leaves.Add(Encoding.UTF8.GetBytes($"{{\"forged\":{seq}}}"));
        var subtrees = new Dictionary<(int, long), byte[]>();
        var tree = new MerkleTree.Frontier(0, []);
        foreach (var leaf in leaves) tree.Append(MerkleTree.LeafHash(leaf), (level, index, hash) => subtrees[(level, index)] = hash);
        using var stolenKey = CheckpointSigner.FromPrivateKeyPem(PortalFactory.AuditSigningKeyPem);
        var forged = stolenKey.SignNote(TestWitness.Origin, leaves.Count, tree.Root(), new byte[32], DateTimeOffset.UtcNow);
        var proof = MerkleTree.ConsistencyProof(signed, leaves.Count, (level, index) => subtrees[(level, index)]);

        var response = await _witness.Http.PostAsync("/add-checkpoint",
            new StringContent(new AddCheckpointRequest(signed, proof, forged.ToNote()).Format(), Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal(signed, await _witness.CosignedSizeAsync());
    }

    [Fact]
    public async Task A_restarted_witness_remembers_what_it_cosigned_and_answers_a_stale_old_size_with_its_own()
    {
        var signed = await WitnessedChainAsync();
        var directory = _witness.Directory;
        await _witness.DisposeAsync();
        _witness = await TestWitness.StartAsync(directory);
        var latest = (await _witness.CosignedAsync()).MaxBy(c => c.Size)!;
        Assert.Equal(signed, latest.Size);

        var stale = await _witness.Http.PostAsync("/add-checkpoint",
            new StringContent(new AddCheckpointRequest(0, [], latest.Note).Format(), Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        Assert.Equal("text/x.tlog.size", stale.Content.Headers.ContentType!.MediaType);
        Assert.Equal($"{signed}\n", await stale.Content.ReadAsStringAsync());
    }

    private async Task<List<byte[]>> CanonicalAsync(long toSeq)
    {
        await using var connection = new NpgsqlConnection(_portal.AppConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select canonical from audit_events where seq <= $1 order by seq", connection);
        command.Parameters.AddWithValue(toSeq);
        var rows = new List<byte[]>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) rows.Add(reader.GetFieldValue<byte[]>(0));
        return rows;
    }
}
