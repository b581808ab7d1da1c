using System.Net;
using System.Text.Json.Nodes;
using Portal.Domain.Audit;
using Portal.Features.Audit;
using Portal.Features.Auth;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Audit;

/// <summary>
/// What the owner of the database (who can switch the append-only triggers off) or someone handling an export can
/// try against the trail, and how it is caught: control events are signed at once, a removed tail is named by its
/// range, a forged export tail fails offline, and a checkpoint by an unknown key fails verification.
/// </summary>
public sealed class AuditOwnerAttackTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;
    private string _dir = null!;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync();
        _dir = Directory.CreateTempSubdirectory("portal-attack-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _portal.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private Task<long> NewestCheckpointSeqAsync() =>
        OrderRequests.ScalarAsync(_portal.AppConnectionString, "select coalesce(max(seq), 0) from audit_checkpoints");

    private async Task<long> AppendHaltAsync()
    {
        await _portal.Get<AuditTrail>().AppendAsync(AuditEventDraft.Create(
            _portal.Get<TimeProvider>().GetUtcNow(), "user:operator", "trading.halted", "trading", new { reason = "test halt" }));
        return await _portal.HeadSeqAsync();
    }

    [Fact]
    public async Task A_halt_is_checkpointed_at_once_not_at_the_five_minute_cadence()
    {
        await _portal.AppendAsync(20);
        // A look for control events finds none in these 20; the next look must still see the halt after them.
        await _portal.Get<AuditCheckpointer>().CheckpointAsync(force: false, CancellationToken.None);
        var halt = await AppendHaltAsync();

        // The cadence is 5 minutes or 10,000 events: only the control-event rule can sign this within the wait.
        await Poll.UntilAsync(async () => await NewestCheckpointSeqAsync() >= halt, $"a checkpoint covers the halt at seq {halt}", TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Deleting_the_newest_events_and_resetting_the_head_is_reported_with_the_missing_range()
    {
        await _portal.AppendAsync(20);
        var halt = await AppendHaltAsync();
        await Poll.UntilAsync(async () => await NewestCheckpointSeqAsync() >= halt, $"a checkpoint covers the halt at seq {halt}", TimeSpan.FromSeconds(30));
        var signed = await NewestCheckpointSeqAsync();
        var keep = halt - 5;

        // As the schema owner: triggers off, the tail and its checkpoint rows gone, the head moved back, triggers on.
        await AuditTestKit.DeleteTailAsync(_portal.OwnerConnectionString, keep);

        foreach (var mode in new[] { AuditVerificationMode.Full, AuditVerificationMode.Incremental })
        {
            var report = await _portal.Get<AuditVerification>().VerifyAsync(mode, CancellationToken.None);
            Assert.False(report.Ok, $"{mode}: the removed tail went unnoticed");
            Assert.StartsWith(AuditProblem.MissingRow, report.Problem);
            Assert.Contains($"{keep + 1}..{signed}", report.Problem);
        }
    }

    /// <summary>
    /// The Merkle tree grows from the newest checkpoint row that has one; the chain was verified only from the newest
    /// checkpoint of the database or the checkpoint file. With the newest row deleted (the file keeps it), the events in
    /// between went into the next signed tree unverified, so an event rewritten there got a valid signed inclusion proof.
    /// </summary>
    [Fact]
    public async Task A_deleted_checkpoint_row_does_not_let_the_next_checkpoint_sign_over_an_event_rewritten_before_it()
    {
        await _portal.AppendAsync(10);
        var older = await _portal.CheckpointAtLeastAsync(await _portal.HeadSeqAsync());
        await _portal.AppendAsync(10, first: 11);
        var newer = await _portal.CheckpointAtLeastAsync(await _portal.HeadSeqAsync());
        var rewritten = older + 3;
        await AuditTestKit.ExecAsync(_portal.OwnerConnectionString, $"""
            alter table audit_events disable trigger audit_events_append_only;
            alter table audit_checkpoints disable trigger audit_checkpoints_append_only;
            delete from audit_checkpoints where seq = {newer};
            update audit_events set canonical = convert_to(replace(convert_from(canonical, 'UTF8'), '"ok"', '"xx"'), 'UTF8') where seq = {rewritten};
            alter table audit_events enable always trigger audit_events_append_only;
            alter table audit_checkpoints enable always trigger audit_checkpoints_append_only;
            """);
        await _portal.AppendAsync(5, first: 21);

        var signed = await _portal.Get<AuditCheckpointer>().CheckpointAsync(force: true, CancellationToken.None);

        Assert.Null(signed);
        Assert.Equal(older, await NewestCheckpointSeqAsync());
    }

    [Fact]
    public async Task An_export_whose_tail_was_forged_fails_offline_even_with_the_manifest_edited_to_match()
    {
        await _portal.AppendAsync(40);
        var checkpointed = await _portal.HeadSeqAsync();
        await _portal.CheckpointAtLeastAsync(checkpointed);
        var client = await _portal.ClientWithScopesAsync(Scopes.Audit);
        var export = await client.GetAsync($"/api/audit/export?from=1&to={checkpointed}&format=jsonl");
        Assert.Equal(HttpStatusCode.OK, export.StatusCode);
        var lines = (await export.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n');
        var manifest = await client.GetStringAsync($"/api/audit/export/manifest?from=1&to={checkpointed}");

        // Re-seal the last 5 records with other content, links intact, and make the manifest agree: its last hash, and
        // no checkpoint that would name the original tail.
        var first = lines.Length - 5;
        var prev = Convert.FromHexString(JsonNode.Parse(lines[first])!["prev"]!.GetValue<string>());
        for (var i = first; i < lines.Length; i++)
        {
            var seq = JsonNode.Parse(lines[i])!["seq"]!.GetValue<long>();
            var forged = AuditChain.Seal(AuditTestKit.Draft((int)seq, "forged"), seq, prev);
            lines[i] = AuditExportFormat.FormatLine(AuditRow.FromRecord(forged));
            prev = forged.Hash;
        }
        var json = manifest.Split('\n')[0];
        var edited = JsonNode.Parse(json)!.AsObject();
        edited["lastHash"] = Convert.ToHexStringLower(prev);
        edited["checkpoints"] = new JsonArray();
        var forgedManifest = edited.ToJsonString() + manifest[json.Length..];

        var exportPath = Path.Combine(_dir, "export.jsonl");
        var manifestPath = Path.Combine(_dir, "manifest");
        var keyPath = Path.Combine(_dir, "key.pem");
        await File.WriteAllTextAsync(exportPath, string.Join('\n', lines) + "\n");
        await File.WriteAllTextAsync(manifestPath, forgedManifest);
        await File.WriteAllTextAsync(keyPath, await _portal.CreateClient().GetStringAsync("/api/audit/public-key"));
        var output = new StringWriter();
        var exit = AuditCli.VerifyExportFile([exportPath, "--manifest", manifestPath, "--public-key", keyPath], output, output);

        Assert.True(exit == 1, output.ToString());
        Assert.StartsWith("FAILED", output.ToString());
    }

    [Fact]
    public async Task A_checkpoint_signed_by_an_unknown_key_fails_verification()
    {
        await _portal.AppendAsync(20);
        var head = await _portal.HeadSeqAsync();
        byte[] hash;
        await using (var connection = new Npgsql.NpgsqlConnection(_portal.AppConnectionString))
        {
            await connection.OpenAsync();
            await using var read = new Npgsql.NpgsqlCommand($"select hash from audit_events where seq = {head}", connection);
            hash = (byte[])(await read.ExecuteScalarAsync())!;
        }
        using var stranger = CheckpointSigner.Generate();
        var forged = stranger.Sign(head, hash, _portal.Get<TimeProvider>().GetUtcNow());

        await AuditTestKit.ExecAsync(_portal.OwnerConnectionString,
            "insert into audit_checkpoints (seq, hash, time, signature, key_id) values ($1, $2, $3, $4, $5)",
            forged.Seq, forged.Hash, forged.Time, forged.Signature, stranger.KeyId);

        var report = await _portal.Get<AuditVerification>().VerifyAsync(AuditVerificationMode.Full, CancellationToken.None);
        Assert.False(report.Ok, "a checkpoint by a key nobody pinned was ignored");
        Assert.Contains("unknown key", report.Problem);
    }
}
