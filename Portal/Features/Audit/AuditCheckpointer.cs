using System.Data;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Domain.Audit;

namespace Portal.Features.Audit;

/// <summary>
/// Signs the chain head every <c>Audit:Checkpoint:EveryEvents</c> events or <c>Audit:Checkpoint:EveryMinutes</c>
/// (whichever comes first, and only when the head moved), within a second of a control event
/// (<c>Audit:Checkpoint:ControlEventTypes</c>: a halt must not be deletable unnoticed for minutes), and when asked
/// (the nightly job). Before signing it verifies the rows since the previous checkpoint, so a checkpoint vouches only
/// for rows that were checked, and a chain rewritten behind its back is refused rather than signed; the same rows, read
/// once, extend the stored Merkle tree; then it signs a C2SP checkpoint note (tree size, root, chain hash). Each checkpoint goes to the
/// checkpoint file first (synced), then to <c>audit_checkpoints</c>. An advisory lock lets one instance at a time do it:
/// the timer skips a turn while another checkpoint is being made, one asked for waits for it.
/// </summary>
public sealed class AuditCheckpointer(
    AuditChainStore store, AuditKeys keys, AuditCheckpointFile file, IOptions<AuditOptions> options, TimeProvider clock,
    ILogger<AuditCheckpointer> logger) : BackgroundService
{
    internal const long LockKey = 0x504F5254414C_02; // "PORTAL" + 2

    // Before any checkpoint of this key exists, time is counted from start-up, not from the chain's first event.
    private readonly DateTimeOffset _startedAt = clock.GetUtcNow();
    private readonly Lock _fileGate = new();
    private SignedCheckpoint? _fileLatest;
    private bool _fileRead;
    private string? _lastFailure;
    // The seq through which the chain was found to hold no control event; read and moved only by the one checkpoint in
    // progress (the advisory lock).
    private long _noControlEventThrough;

    /// <summary>Signs the head if it is due (or <paramref name="force"/>) and the rows since the last checkpoint verify; null when nothing was signed.</summary>
    public async Task<SignedCheckpoint?> CheckpointAsync(bool force, CancellationToken ct)
    {
        await using var connection = await store.DataSource.OpenConnectionAsync(ct);
        if (!force) return await SignAsync(connection, force, ct);
        // Asked for (the nightly job, an export): waits while another instance or the timer signs, rather than giving up,
        // and only then begins its snapshot, so it signs the head as it is after that one (its own events included).
        await using (var wait = new NpgsqlCommand($"select pg_advisory_lock({LockKey})", connection)) await wait.ExecuteNonQueryAsync(ct);
        try
        {
            return await SignAsync(connection, force, ct);
        }
        finally
        {
            await using var release = new NpgsqlCommand($"select pg_advisory_unlock({LockKey})", connection);
            await release.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    /// <summary>Signs in a snapshot of its own; unless forced, only if no other checkpoint is being made (the lock is free).</summary>
    private async Task<SignedCheckpoint?> SignAsync(NpgsqlConnection connection, bool force, CancellationToken ct)
    {
        var fileLatest = FileLatest();
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct);
        if (!force)
            await using (var tryLock = new NpgsqlCommand($"select pg_try_advisory_xact_lock({LockKey})", connection, transaction))
                if (!(bool)(await tryLock.ExecuteScalarAsync(ct))!) return null;

        var head = await AuditChainStore.ReadHeadAsync(connection, transaction, ct);
        var fromDb = await store.LatestValidCheckpointAsync(connection, transaction, ct);
        if (new[] { fromDb, fileLatest }.Where(c => c is not null && c.Seq > head.Seq).MaxBy(c => c!.Seq) is { } beyond)
        {
            // Signing now would vouch for a chain that lost (or will re-use) seqs an earlier checkpoint vouched for.
            return Refuse(beyond.Seq, $"{AuditProblem.MissingRow}s {head.Seq + 1}..{beyond.Seq}: the checkpoint at seq {beyond.Seq} vouches for them but the head is at seq {head.Seq}");
        }
        var last = new[] { fromDb, fileLatest }.Where(c => c is not null && c.Seq <= head.Seq).MaxBy(c => c!.Seq);
        if (head.Seq == 0 || head.Seq == last?.Seq) return null;
        var now = clock.GetUtcNow();
        var settings = options.Value.Checkpoint;
        var due = force
            || head.Seq - (last?.Seq ?? 0) >= settings.EveryEvents
            || now - (last?.Time ?? _startedAt) >= TimeSpan.FromMinutes(settings.EveryMinutes)
            || await HasControlEventAfterAsync(connection, transaction, last?.Seq ?? 0, head.Seq, settings.ControlEventTypesOrDefault, ct);
        if (!due) return null;

        // The tree is opened first so that the rows verified are its new leaves, read once. Every new leaf must be a
        // verified row: when the tree starts before the newest checkpoint (that checkpoint's row is gone, the file keeps
        // it; or it predates trees), verification starts where the tree does and passes that checkpoint on the way.
        var lastNote = await store.LatestValidCheckpointAsync(connection, transaction, ct, notesOnly: true);
        var (tree, treeProblem) = await AuditMerkleStore.Extension.OpenAsync(connection, transaction, lastNote, ct);
        var from = tree is not null && tree.Size < (last?.Seq ?? 0) ? lastNote : last;
        var check = await store.VerifyRangeAsync(connection, transaction, from, new[] { from, last }.OfType<SignedCheckpoint>().Distinct().ToList(), head, ct,
            verified: tree is not null ? tree.Append : null);
        if (check.Problem is not null) return Refuse(check.FirstBadSeq, check.Problem);
        _lastFailure = null;
        AuditMetrics.VerificationOk.WithLabels("checkpoint").Set(1);

        byte[]? root = null;
        if (tree is not null) (root, treeProblem) = await tree.FinishAsync(connection, transaction, head.Seq, ct);
        if (root is null) return Refuse(lastNote?.Seq, "Merkle tree: " + treeProblem);

        var checkpoint = keys.Signer.SignNote(options.Value.Origin, head.Seq, root, head.Hash, now);
        lock (_fileGate)
        {
            file.Append(checkpoint, keys.KeyId);
            _fileLatest = checkpoint;
        }
        await using (var insert = new NpgsqlCommand(
            "insert into audit_checkpoints (seq, hash, time, signature, key_id, note) values ($1, $2, $3, $4, $5, $6)", connection, transaction))
        {
            insert.Parameters.AddWithValue(checkpoint.Seq);
            insert.Parameters.AddWithValue(checkpoint.Hash);
            insert.Parameters.AddWithValue(checkpoint.Time);
            insert.Parameters.AddWithValue(checkpoint.Signature);
            insert.Parameters.AddWithValue(keys.KeyId);
            insert.Parameters.AddWithValue(checkpoint.ToNote());
            await insert.ExecuteNonQueryAsync(ct);
        }
        await transaction.CommitAsync(ct);
        AuditMetrics.CheckpointSeq.Set(checkpoint.Seq);
        logger.LogInformation("Audit checkpoint signed at seq {Seq}", checkpoint.Seq);
        return checkpoint;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Twice a second: a control event is signed within a second of its commit (an idle tick is one head read).
        var period = TimeSpan.FromSeconds(Math.Min(0.5, options.Value.Checkpoint.EveryMinutes * 60));
        using var timer = new PeriodicTimer(period, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await CheckpointAsync(force: false, stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Could not make an audit checkpoint; retrying");
            }
        }
    }

    private SignedCheckpoint? Refuse(long? seq, string problem)
    {
        AuditMetrics.VerificationOk.WithLabels("checkpoint").Set(0);
        if (problem != _lastFailure)
            logger.LogCritical("AUDIT CHAIN BROKEN at seq {Seq}: {Problem}. No checkpoint is signed until it is resolved.", seq, problem);
        _lastFailure = problem;
        return null;
    }

    /// <summary>
    /// A control event (halt, resume, limit approval, role change, phase change...) after <paramref name="checkpointSeq"/>.
    /// Only the rows appended since the last probe that found none are read: asked over every row since the checkpoint,
    /// in whichever form (per type through the (type, seq) index, or the newest of each type), the planner walked the
    /// primary key from the checkpoint and filtered on type, expecting a control event every few rows: 15-35 ms a call
    /// under bench/load.sh, twice a second. The visible chain is always a prefix (appends hold the head's lock until they
    /// commit), so a range read once needs no second look.
    /// </summary>
    private async Task<bool> HasControlEventAfterAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, long checkpointSeq, long headSeq, string[] types, CancellationToken ct)
    {
        // A head behind what was probed means a chain cut back: look at everything since the checkpoint again.
        var from = _noControlEventThrough <= headSeq ? Math.Max(checkpointSeq, _noControlEventThrough) : checkpointSeq;
        if (from >= headSeq) return false;
        await using var command = new NpgsqlCommand(
            "select exists (select 1 from audit_events where seq > $2 and seq <= $3 and type = any($1))", connection, transaction);
        command.Parameters.AddWithValue(types);
        command.Parameters.AddWithValue(from);
        command.Parameters.AddWithValue(headSeq);
        var found = (bool)(await command.ExecuteScalarAsync(ct))!;
        if (!found) _noControlEventThrough = headSeq;
        return found;
    }

    /// <summary>The newest valid checkpoint in this instance's file; the file is read once, then kept up to date here.</summary>
    private SignedCheckpoint? FileLatest()
    {
        lock (_fileGate)
        {
            if (_fileRead) return _fileLatest;
            _fileLatest = file.Read().Where(keys.IsValid).MaxBy(c => c.Seq);
            _fileRead = true;
            return _fileLatest;
        }
    }
}
