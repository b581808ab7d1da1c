using Npgsql;
using Portal.Domain.Audit;
using Portal.Features.Audit;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Audit;

/// <summary>The database refuses changes to the trail, and whatever someone with full database access changes anyway is found and named.</summary>
public sealed class AuditTamperTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;
    private long _head;

    /// <summary>100 test events after whatever start-up recorded (the first limits); <see cref="_head"/> is the last seq.</summary>
    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync();
        // Start-up's limits are a control event, signed within a second; signed now, so that no checkpoint lands on the
        // test events unasked (a test that wants one makes it).
        await _portal.CheckpointAtLeastAsync(await _portal.HeadSeqAsync());
        await _portal.AppendAsync(100);
        _head = await _portal.HeadSeqAsync();
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    private Task<AuditVerificationReport> VerifyAsync(AuditVerificationMode mode = AuditVerificationMode.Full) =>
        _portal.Get<AuditVerification>().VerifyAsync(mode, CancellationToken.None);

    /// <summary>Waits until a checkpoint signs exactly <paramref name="seq"/> (the head: nothing is appended meanwhile).</summary>
    private async Task CheckpointAtAsync(long seq) => Assert.Equal(seq, await _portal.CheckpointAtLeastAsync(seq));

    private static void AssertBroken(AuditVerificationReport report, long seq, string problem)
    {
        Assert.False(report.Ok);
        Assert.True(seq == report.FirstBadSeq, $"expected seq {seq}: {report.Problem}");
        Assert.StartsWith(problem, report.Problem);
    }

    [Fact]
    public async Task An_untouched_chain_of_100_verifies_fully_and_incrementally()
    {
        var full = await VerifyAsync();
        Assert.True(full.Ok, full.Problem);
        Assert.Equal(_head, full.ToSeq);
        Assert.Equal(_head, full.Verified);

        await CheckpointAtAsync(_head);
        await _portal.AppendAsync(10, first: 101);
        var incremental = await VerifyAsync(AuditVerificationMode.Incremental);
        Assert.True(incremental.Ok, incremental.Problem);
        Assert.Equal(_head, incremental.FromSeq);
        Assert.Equal(10, incremental.Verified);
    }

    [Theory]
    [InlineData("update audit_events set actor = 'mallory' where seq = 5")]
    [InlineData("delete from audit_events where seq = 5")]
    [InlineData("truncate audit_events")]
    [InlineData("update audit_checkpoints set seq = 1")]
    [InlineData("truncate audit_checkpoints")]
    [InlineData("delete from audit_head")]
    public async Task The_application_role_cannot_update_delete_or_truncate(string sql)
    {
        var error = await Assert.ThrowsAsync<PostgresException>(() => AuditTestKit.ExecAsync(_portal.AppConnectionString, sql));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, error.SqlState);
    }

    [Theory]
    [InlineData("update audit_events set actor = 'mallory' where seq = 5")]
    [InlineData("delete from audit_events where seq = 5")]
    [InlineData("truncate audit_events")]
    [InlineData("update audit_head set seq = 1")]
    public async Task Even_the_owner_and_the_superuser_in_replica_mode_are_stopped_by_the_triggers(string sql)
    {
        var owner = await Assert.ThrowsAsync<PostgresException>(() => AuditTestKit.ExecAsync(_portal.OwnerConnectionString, sql));
        Assert.Contains("audit", owner.MessageText);
        var replica = await Assert.ThrowsAsync<PostgresException>(() =>
            AuditTestKit.ExecAsync(_portal.Superuser(), "set session_replication_role = replica; " + sql));
        Assert.Contains("audit", replica.MessageText);
        Assert.True((await VerifyAsync()).Ok);
    }

    [Fact]
    public async Task An_altered_payload_is_named_by_its_seq()
    {
        await AuditTestKit.ExecAsync(_portal.Superuser(), """
            alter table audit_events disable trigger audit_events_append_only;
            update audit_events set payload = jsonb_set(payload, '{amount}', '"99.00"') where seq = 42;
            """);

        AssertBroken(await VerifyAsync(), 42, AuditProblem.ColumnsDiffer);
    }

    [Fact]
    public async Task Altered_canonical_bytes_are_named_by_their_seq()
    {
        await AuditTestKit.ExecAsync(_portal.Superuser(), """
            alter table audit_events disable trigger audit_events_append_only;
            update audit_events set canonical = overlay(canonical placing '9' from 20 for 1) where seq = 77;
            """);

        AssertBroken(await VerifyAsync(), 77, AuditProblem.HashMismatch);
    }

    [Fact]
    public async Task A_deleted_row_is_named_by_its_seq()
    {
        await AuditTestKit.ExecAsync(_portal.Superuser(), """
            alter table audit_events disable trigger audit_events_append_only;
            delete from audit_events where seq = 58;
            """);

        AssertBroken(await VerifyAsync(), 58, AuditProblem.MissingRow);
    }

    [Fact]
    public async Task A_deleted_tail_is_named_by_its_first_seq_because_the_head_or_a_checkpoint_remembers()
    {
        await AuditTestKit.ExecAsync(_portal.Superuser(), """
            alter table audit_events disable trigger audit_events_append_only;
            delete from audit_events where seq > 90;
            """);

        // The background checkpointer may or may not have signed the head first; either record names the loss.
        var report = await VerifyAsync();
        AssertBroken(report, 91, AuditProblem.MissingRow);
        Assert.Matches($"(the head names seq {_head}|the checkpoint at seq {_head} vouches for seqs 91..{_head}) but the chain ends at seq 90", report.Problem);
    }

    [Fact]
    public async Task A_head_moved_far_beyond_the_chain_is_named_by_the_first_missing_seq()
    {
        // Reads go window by window; the empty trillion seqs after the last row must be jumped, not walked.
        await AuditTestKit.ExecAsync(_portal.Superuser(), """
            alter table audit_head disable trigger audit_head_guard;
            update audit_head set seq = seq + 1000000000000;
            """);

        var report = await VerifyAsync();
        AssertBroken(report, _head + 1, AuditProblem.MissingRow);
        Assert.Contains($"the chain ends at seq {_head}", report.Problem);
    }

    [Fact]
    public async Task A_deleted_signed_tail_is_named_by_its_first_seq_and_the_checkpoint_that_vouched_for_it()
    {
        await CheckpointAtAsync(_head);
        await AuditTestKit.ExecAsync(_portal.Superuser(), """
            alter table audit_events disable trigger audit_events_append_only;
            delete from audit_events where seq > 90;
            """);

        var report = await VerifyAsync();
        AssertBroken(report, 91, AuditProblem.MissingRow);
        Assert.Contains($"the checkpoint at seq {_head} vouches for seqs 91..{_head} but the chain ends at seq 90", report.Problem);
    }

    [Fact]
    public async Task One_row_resealed_with_a_valid_hash_breaks_the_next_link_which_names_it()
    {
        await _portal.RewriteFromAsync(30, moveHead: false, toSeq: 30);

        var report = await VerifyAsync();
        AssertBroken(report, 31, AuditProblem.BrokenLink);
        Assert.Contains("hash of seq 30", report.Problem);
    }

    [Fact]
    public async Task A_tail_rewritten_consistently_without_the_head_is_caught_at_the_head()
    {
        await _portal.RewriteFromAsync(81, moveHead: false);

        AssertBroken(await VerifyAsync(), _head, "head mismatch");
    }

    [Fact]
    public async Task A_tail_rewritten_consistently_with_the_head_is_caught_by_the_first_checkpoint_inside_it()
    {
        var checkpointer = _portal.Get<AuditCheckpointer>();
        await CheckpointAtAsync(_head);
        await _portal.AppendAsync(50, first: 101);
        await CheckpointAtAsync(_head + 50);

        await _portal.RewriteFromAsync(_head + 30, moveHead: true);

        var report = await VerifyAsync();
        AssertBroken(report, _head + 50, AuditProblem.CheckpointMismatch);
        Assert.Equal(_head, report.LastGoodCheckpointSeq);
        // And the checkpointer refuses to sign the forgery.
        await _portal.AppendAsync(1, first: 151);
        Assert.Null(await checkpointer.CheckpointAsync(true, CancellationToken.None));
    }

    [Fact]
    public async Task A_whole_chain_rewritten_consistently_is_caught_by_the_checkpoints_even_without_their_rows()
    {
        await CheckpointAtAsync(_head);
        // The first checkpoint may precede the head: start-up's first limits are a control event, checkpointed at once.
        var first = await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select min(seq) from audit_checkpoints");
        await _portal.RewriteFromAsync(1, moveHead: true);

        AssertBroken(await VerifyAsync(), first, AuditProblem.CheckpointMismatch);

        // Deleting the checkpoint rows too leaves the checkpoint file, outside the database.
        await AuditTestKit.ExecAsync(_portal.Superuser(), """
            alter table audit_checkpoints disable trigger audit_checkpoints_append_only;
            delete from audit_checkpoints;
            """);
        AssertBroken(await VerifyAsync(), first, AuditProblem.CheckpointMismatch);
    }

    [Fact]
    public async Task A_forged_checkpoint_row_is_reported()
    {
        await CheckpointAtAsync(_head);
        await AuditTestKit.ExecAsync(_portal.AppConnectionString,
            "insert into audit_checkpoints (seq, hash, time, signature, key_id) select 50, hash, now(), $1, key_id from audit_checkpoints",
            Convert.ToBase64String(new byte[64]));

        AssertBroken(await VerifyAsync(), 50, AuditProblem.CheckpointSignatureInvalid);
    }
}
