using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Domain.Audit;

namespace Portal.Infrastructure.Postgres;

public sealed class GroupCommitOptions
{
    /// <summary>Most units of work committed in one transaction.</summary>
    public int MaxBatch { get; set; } = 256;
}

/// <summary>A unit of work: statements that must commit together. Read each command's RecordsAffected after it completes.</summary>
public sealed class PgWork(params NpgsqlBatchCommand[] commands)
{
    public IReadOnlyList<NpgsqlBatchCommand> Commands { get; } = commands;

    /// <summary>Audit events sealed into the chain in the same transaction: if they cannot be written, neither is the work.</summary>
    public IReadOnlyList<AuditEventDraft> AuditEvents { get; init; } = [];

    /// <summary>
    /// Asked after the commands ran, inside the transaction: false leaves the audit events out while the commands
    /// still commit (e.g. an <c>insert ... on conflict do nothing</c> that found the row already there did nothing to record).
    /// </summary>
    public Func<bool>? AuditWhen { get; init; }
    internal TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// Group commit: concurrent callers enqueue their statements; one loop writes everything queued
/// in a single transaction and completes every caller only after COMMIT returned. Throughput is
/// then bounded by batch size over commit latency, not by one commit per request. Work is
/// committed in enqueue order. If a batch fails on a statement, its units are retried one by one
/// so a single bad unit cannot fail the others. Units' audit events are sealed into the chain in the same
/// transaction, after every command of the batch (see <see cref="AuditChainWriter"/>).
/// </summary>
public sealed class GroupCommitter(NpgsqlDataSource dataSource, IOptions<GroupCommitOptions> options, ILogger<GroupCommitter> logger)
    : BackgroundService
{
    private readonly Channel<PgWork> _queue = Channel.CreateUnbounded<PgWork>(new UnboundedChannelOptions { SingleReader = true });
    // Kept open between batches: its statements stay prepared and no pool reset runs before every batch. Only the loop uses it.
    private NpgsqlConnection? _connection;

    public Task CommitAsync(PgWork work)
    {
        if (!_queue.Writer.TryWrite(work))
            work.Completion.TrySetException(new InvalidOperationException("The database writer has stopped."));
        return work.Completion.Task;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<PgWork>(options.Value.MaxBatch);
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                while (batch.Count < options.Value.MaxBatch && reader.TryRead(out var work)) batch.Add(work);
                await WriteAsync(batch, stoppingToken);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            await DropConnectionAsync();
            _queue.Writer.TryComplete();
            // Nothing queued may be left waiting forever: its caller must see the failure.
            foreach (var work in batch) work.Completion.TrySetException(new OperationCanceledException("Shutting down."));
            while (reader.TryRead(out var work)) work.Completion.TrySetException(new OperationCanceledException("Shutting down."));
        }
    }

    private async Task WriteAsync(List<PgWork> batch, CancellationToken ct)
    {
        try
        {
            await ExecuteRetryingDeadlocksAsync(batch, ct);
            foreach (var work in batch) work.Completion.TrySetResult();
        }
        catch (Exception ex) when (batch.Count > 1 && IsUnitLevel(ex))
        {
            logger.LogWarning(ex, "Group commit of {Count} units failed; retrying them one by one", batch.Count);
            foreach (var work in batch)
            {
                try
                {
                    await ExecuteRetryingDeadlocksAsync([work], ct);
                    work.Completion.TrySetResult();
                }
                catch (Exception single)
                {
                    work.Completion.TrySetException(single);
                }
            }
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Group commit of {Count} units failed", batch.Count);
            foreach (var work in batch) work.Completion.TrySetException(ex);
        }
    }

    /// <summary>
    /// Two instances' batches can lock the same rows (the paper account, a position) in different orders; PostgreSQL then
    /// rolls one back whole, so running it again is safe and usually succeeds at once.
    /// </summary>
    private async Task ExecuteRetryingDeadlocksAsync(IReadOnlyList<PgWork> units, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await ExecuteInTransactionAsync(units, ct);
                return;
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure && attempt < MaxAttempts)
            {
                logger.LogWarning("Group commit of {Count} units was a {SqlState} victim; attempt {Attempt} of {MaxAttempts}", units.Count, ex.SqlState, attempt + 1, MaxAttempts);
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1, 20)), ct);
            }
        }
    }

    private const int MaxAttempts = 4;

    private async Task ExecuteInTransactionAsync(IReadOnlyList<PgWork> units, CancellationToken ct)
    {
        var connection = _connection ??= await dataSource.OpenConnectionAsync(ct);
        try
        {
            await ExecuteInTransactionAsync(connection, units, ct);
        }
        catch (Exception ex)
        {
            // Whatever failed (a statement, the server, the network), the pool's reset rolls the transaction back; the
            // next batch starts on a fresh connection. If the server or the network failed, the pool's idle connections
            // are most likely dead too (e.g. PostgreSQL restarted): the next batch must not pick one of them.
            await DropConnectionAsync();
            if (!IsUnitLevel(ex)) dataSource.Clear();
            throw;
        }
    }

    private async Task DropConnectionAsync()
    {
        if (_connection is null) return;
        await _connection.DisposeAsync();
        _connection = null;
    }

    /// <summary>
    /// BEGIN, the units' statements and COMMIT travel in one round trip. With audit events, the batch ends with the
    /// head lock instead, and the sealed events go with the COMMIT: two round trips, and the head is locked only
    /// for the second one and the commit.
    /// </summary>
    private static async Task ExecuteInTransactionAsync(NpgsqlConnection connection, IReadOnlyList<PgWork> units, CancellationToken ct)
    {
        await using var npgsqlBatch = new NpgsqlBatch(connection);
        npgsqlBatch.BatchCommands.Add(new NpgsqlBatchCommand("begin"));
        foreach (var unit in units)
            foreach (var command in unit.Commands)
                npgsqlBatch.BatchCommands.Add(command);
        try
        {
            if (!units.Any(u => u.AuditEvents.Count > 0))
            {
                npgsqlBatch.BatchCommands.Add(new NpgsqlBatchCommand("commit"));
                await npgsqlBatch.ExecuteNonQueryAsync(ct);
                return;
            }

            npgsqlBatch.BatchCommands.Add(AuditChainWriter.LockHeadCommand());
            (long Seq, byte[] Hash) head;
            await using (var reader = await npgsqlBatch.ExecuteReaderAsync(ct))
                head = await AuditChainWriter.ReadHeadAsync(reader, ct);
            // RecordsAffected is known now that the reader is consumed.
            var audit = new List<AuditEventDraft>();
            foreach (var unit in units)
                if (unit.AuditEvents.Count > 0 && (unit.AuditWhen?.Invoke() ?? true))
                    audit.AddRange(unit.AuditEvents);
            await using var finish = new NpgsqlBatch(connection);
            if (audit.Count > 0)
                foreach (var command in AuditChainWriter.AppendCommands(head, audit).Commands)
                    finish.BatchCommands.Add(command);
            finish.BatchCommands.Add(new NpgsqlBatchCommand("commit"));
            await finish.ExecuteNonQueryAsync(ct);
        }
        finally
        {
            // A command belongs to one batch at a time; release them so a retry can reuse them.
            npgsqlBatch.BatchCommands.Clear();
        }
    }

    /// <summary>A failure one unit may have caused, so retrying the units alone can save the others.</summary>
    private static bool IsUnitLevel(Exception ex) => ex is AuditSealException
        || (ex is PostgresException pg && !pg.SqlState.StartsWith("08", StringComparison.Ordinal) && !pg.SqlState.StartsWith("57", StringComparison.Ordinal));
}
