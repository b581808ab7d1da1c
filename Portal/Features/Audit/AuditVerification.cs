using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using Portal.Domain.Audit;
using Portal.Features.Observability;
using Portal.Jobs.Audit;

namespace Portal.Features.Audit;

public enum AuditVerificationMode { Incremental, Full }

/// <summary>Rows verified so far out of the rows the run will read.</summary>
public sealed record AuditVerificationProgress(long Verified, long Total);

/// <summary>What a verification run found.</summary>
/// <param name="FromSeq">The run started after this seq (0: the chain's start; else a signed checkpoint).</param>
/// <param name="ToSeq">The head when the run began: rows up to it were read.</param>
/// <param name="FirstBadSeq">The first seq with a problem; null when <paramref name="Ok"/>.</param>
/// <param name="Problem">Why, beginning with one of <see cref="AuditProblem"/>'s phrases or "head mismatch".</param>
/// <param name="Checkpoints">Signed checkpoints (database and file) the run held the chain to.</param>
/// <param name="LastGoodCheckpointSeq">The newest checkpoint the chain still matched: anything rewritten lies after it.</param>
/// <param name="Authenticated">
/// How far a signature vouches for the chain, e.g. "authenticated through seq 120; 3 newer events not yet
/// checkpointed": events after the newest matching checkpoint could still be removed or rewritten unnoticed.
/// </param>
/// <param name="Witness">How far the witness vouches ("the witness cosigned through tree size 120"), or why it was not consulted; null without a witness.</param>
public sealed record AuditVerificationReport(
    string Mode, bool Ok, long FromSeq, long ToSeq, long Verified, long? FirstBadSeq, string? Problem,
    int Checkpoints, long? LastGoodCheckpointSeq, double Seconds, string? Authenticated = null, string? Witness = null)
{
    public static string DescribeAuthentication(long? checkpointSeq, long headSeq) => checkpointSeq switch
    {
        null => $"not authenticated: no signed checkpoint covers any of the {headSeq} events",
        { } seq when seq >= headSeq => $"authenticated through seq {seq}, the head",
        { } seq => $"authenticated through seq {seq}; {headSeq - seq} newer events not yet checkpointed",
    };
}

/// <summary>Runs a verification on request (API, audit page), recording its result in the trail.</summary>
public interface IAuditChainVerifier
{
    Task<AuditVerificationReport> RunAsync(AuditVerificationMode mode, string actor, CancellationToken ct, IProgress<AuditVerificationProgress>? progress = null);
}

/// <summary>
/// Verifies the chain as stored, in one read-only snapshot: each row's hash, its columns against its canonical
/// bytes, the links, every signed checkpoint (from the database and from the checkpoint file), and that the head
/// row names the last row. Full runs start at the chain's beginning; incremental runs at the newest valid
/// checkpoint, since a checkpoint is only signed after the rows up to it were verified (see <see cref="AuditCheckpointer"/>).
/// </summary>
public sealed class AuditVerification(
    AuditChainStore store, AuditTrail trail, AuditCheckpointer checkpointer, AuditWitness witness, JobSuccesses jobSuccesses, TimeProvider clock,
    ILogger<AuditVerification> logger) : IAuditVerificationRunner, IAuditChainVerifier
{
    public const string VerifiedType = "audit.verified";

    public async Task<AuditVerificationReport> VerifyAsync(AuditVerificationMode mode, CancellationToken ct, IProgress<AuditVerificationProgress>? progress = null)
    {
        var started = Stopwatch.GetTimestamp();
        var fromFile = store.ReadFileCheckpoints();
        // The witness's copies count like the log's own: a tail it cosigned cannot go missing unnoticed even when the
        // database's checkpoints and the checkpoint file were both rewritten. Read before the snapshot, as the file is.
        var witnessed = await witness.ReadCosignedAsync(ct);
        var (connection, transaction) = await store.OpenSnapshotAsync(ct);
        await using (connection)
        await using (transaction)
        {
            var head = await AuditChainStore.ReadHeadAsync(connection, transaction, ct);
            var checkpoints = await store.ReadCheckpointsAsync(connection, transaction, fromFile.Concat(witnessed.Checkpoints), ct);
            var start = mode == AuditVerificationMode.Incremental ? store.LatestValid(checkpoints, head.Seq) : null;
            var check = await store.VerifyRangeAsync(connection, transaction, start, checkpoints, head, ct, progress: progress);
            var name = mode == AuditVerificationMode.Full ? "full" : "incremental";
            return new AuditVerificationReport(name, check.Problem is null, start?.Seq ?? 0, head.Seq, check.Verified, check.FirstBadSeq, check.Problem,
                checkpoints.Count, check.LastGoodCheckpointSeq, Stopwatch.GetElapsedTime(started).TotalSeconds,
                AuditVerificationReport.DescribeAuthentication(check.LastGoodCheckpointSeq, check.Problem is null ? head.Seq : check.HeadSeq),
                witness.Enabled ? witnessed.Summary : null);
        }
    }

    /// <summary>Runs a verification and reports it: metric, critical log on failure, and an <c>audit.verified</c> event.</summary>
    public async Task<AuditVerificationReport> RunAsync(
        AuditVerificationMode mode, string actor, CancellationToken ct, IProgress<AuditVerificationProgress>? progress = null)
    {
        var report = await VerifyAsync(mode, ct, progress);
        AuditMetrics.VerificationOk.WithLabels(report.Mode).Set(report.Ok ? 1 : 0);
        if (report.Ok)
            logger.LogInformation("Audit chain verified ({Mode}): {Verified} rows after seq {From} up to {To} in {Seconds:F2} s; {Authenticated}",
                report.Mode, report.Verified, report.FromSeq, report.ToSeq, report.Seconds, report.Authenticated);
        else
            logger.LogCritical("AUDIT CHAIN VERIFICATION FAILED ({Mode}) at seq {Seq}: {Problem}", report.Mode, report.FirstBadSeq, report.Problem);

        var draft = AuditEventDraft.Create(clock.GetUtcNow(), actor, VerifiedType, "audit:chain", report, JsonSerializerOptions.Web);
        try
        {
            await trail.AppendAsync(draft);
        }
        catch (Exception ex)
        {
            // The verdict stands even if it cannot be recorded now; keep trying in the background.
            logger.LogError(ex, "Could not record the audit verification result now; queued");
            _ = trail.AppendEventuallyAsync(draft);
        }
        return report;
    }

    /// <summary>The nightly job: a full run, then a checkpoint of the head when the chain holds.</summary>
    public async Task RunScheduledVerificationAsync(CancellationToken ct)
    {
        var report = await RunAsync(AuditVerificationMode.Full, "job:" + AuditVerificationJob.RecurringJobId, ct);
        if (report.Ok) await checkpointer.CheckpointAsync(force: true, ct);
        // The job ran; a chain that does not verify has its own alert (PortalAuditVerificationFailed).
        await jobSuccesses.RecordAsync(AuditVerificationJob.RecurringJobId, ct);
    }
}
