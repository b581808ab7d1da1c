using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Portal.Domain.Audit;
using Portal.Features.Live;
using Portal.Infrastructure.Postgres;
using Portal.Jobs.Readiness;
using Prometheus;

namespace Portal.Features.Readiness;

/// <summary>A drill started, finished, or the whole "run all" finished; for the checklist's live progress.</summary>
public sealed record DrillProgress(string Drill, string State, int Index, int Count, DrillRun? Run);

/// <summary>
/// Runs drills one at a time on this instance (they share the drill strategy and the connection cuts), and stores
/// each result in <c>drill_runs</c> together with its <c>readiness.drill</c> audit record, in one transaction: a
/// result that cannot be audited is not evidence.
/// </summary>
public sealed class DrillRunner(ReadinessDrills drills, NpgsqlDataSource db, OpsEventBus live, TimeProvider clock, ILogger<DrillRunner> logger)
    : IReadinessDrillRunner
{
    public const string ProgressEvent = "drillProgress";
    public const string AuditType = "readiness.drill";

    /// <summary>
    /// 1 while a drill runs here: the fault drills hold this instance in safe mode for seconds on purpose, and the safe-mode
    /// alert leaves an instance out meanwhile (deploy/prometheus/alerts.yml).
    /// </summary>
    private static readonly Gauge Running = Metrics.CreateGauge("portal_readiness_drill_running", "1 while a readiness drill runs on this instance.");

    private readonly SemaphoreSlim _oneAtATime = new(1, 1);

    public bool IsRunning => _oneAtATime.CurrentCount == 0;

    /// <summary>Runs one drill; null when another drill is running on this instance.</summary>
    public async Task<DrillRun?> TryRunAsync(string drill, string actor, CancellationToken ct)
    {
        if (!await _oneAtATime.WaitAsync(0, ct)) return null;
        try
        {
            return await RunOneAsync(drill, actor, 0, 1, ct);
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    /// <summary>Runs every drill in order; null when a drill is already running on this instance.</summary>
    public async Task<IReadOnlyList<DrillRun>?> TryRunAllAsync(string actor, CancellationToken ct)
    {
        if (!await _oneAtATime.WaitAsync(0, ct)) return null;
        try
        {
            var runs = new List<DrillRun>();
            for (var i = 0; i < Drills.All.Count; i++) runs.Add(await RunOneAsync(Drills.All[i].Id, actor, i, Drills.All.Count, ct));
            live.Publish(ProgressEvent, new DrillProgress("all", "finished", Drills.All.Count, Drills.All.Count, null));
            return runs;
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    public async Task RunScheduledDrillsAsync(CancellationToken ct)
    {
        var runs = await TryRunAllAsync("job:" + ReadinessDrillJob.RecurringJobId, ct);
        if (runs is null) logger.LogWarning("Scheduled readiness drills skipped: drills are already running on this instance");
        else if (runs.Any(r => !r.Ok)) logger.LogError("Readiness drills failed: {Drills}", string.Join(", ", runs.Where(r => !r.Ok).Select(r => r.Drill)));
    }

    private async Task<DrillRun> RunOneAsync(string drill, string actor, int index, int count, CancellationToken ct)
    {
        live.Publish(ProgressEvent, new DrillProgress(drill, "running", index, count, null));
        var startedAt = clock.GetUtcNow();
        var watch = Stopwatch.StartNew();
        DrillOutcome outcome;
        Running.Set(1);
        try
        {
            outcome = await drills.RunAsync(drill, actor, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // A drill that cannot complete is a failed drill, and is recorded as one.
            logger.LogError(ex, "Readiness drill {Drill} could not complete", drill);
            outcome = DrillOutcome.Fail($"The drill could not complete: {ex.GetType().Name}: {ex.Message}");
        }
        finally
        {
            Running.Set(0);
        }
        var figures = new Dictionary<string, string>(outcome.Figures) { ["drillMs"] = watch.Elapsed.TotalMilliseconds.ToString("0", System.Globalization.CultureInfo.InvariantCulture) };
        var run = await StoreAsync(new DrillRun(Guid.CreateVersion7(startedAt), drill, outcome.Ok, outcome.Summary, figures, actor, startedAt, clock.GetUtcNow(), 0), ct);
        logger.Log(run.Ok ? LogLevel.Information : LogLevel.Error, "Readiness drill {Drill} {Result}: {Summary}", drill, run.Ok ? "passed" : "FAILED", run.Summary);
        live.Publish(ProgressEvent, new DrillProgress(drill, "finished", index + 1, count, run));
        return run;
    }

    /// <summary>Stores a run with its audit record; the row keeps the record's seq and hash, which the checklist checks.</summary>
    public async Task<DrillRun> StoreAsync(DrillRun run, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var draft = AuditEventDraft.Create(run.FinishedAt, run.Actor, AuditType, "drill:" + run.Drill,
            new { runId = run.Id, drill = run.Drill, ok = run.Ok, summary = run.Summary, figures = run.Figures, startedAt = run.StartedAt });
        // Appended first so the row can name its record; the insert after it touches nothing other audit writers lock.
        var records = await AuditChainWriter.AppendAsync(connection, transaction, [draft], ct);
        var stored = run with { AuditSeq = records[0].Seq };
        await using (var insert = new NpgsqlCommand("""
            insert into drill_runs (id, drill, ok, summary, figures, actor, started_at, finished_at, audit_seq, audit_hash)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue(stored.Id);
            insert.Parameters.AddWithValue(stored.Drill);
            insert.Parameters.AddWithValue(stored.Ok);
            insert.Parameters.AddWithValue(stored.Summary);
            insert.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(stored.Figures), NpgsqlDbType = NpgsqlDbType.Jsonb });
            insert.Parameters.AddWithValue(stored.Actor);
            insert.Parameters.AddWithValue(stored.StartedAt);
            insert.Parameters.AddWithValue(stored.FinishedAt);
            insert.Parameters.AddWithValue(stored.AuditSeq);
            insert.Parameters.AddWithValue(records[0].Hash);
            await insert.ExecuteNonQueryAsync(ct);
        }
        await transaction.CommitAsync(ct);
        return stored;
    }
}
