using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Npgsql;

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
    internal TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// Group commit: concurrent callers enqueue their statements; one loop writes everything queued
/// in a single transaction and completes every caller only after COMMIT returned. Throughput is
/// then bounded by batch size over commit latency, not by one commit per request. Work is
/// committed in enqueue order. If a batch fails on a statement, its units are retried one by one
/// so a single bad unit cannot fail the others.
/// </summary>
public sealed class GroupCommitter(NpgsqlDataSource dataSource, IOptions<GroupCommitOptions> options, ILogger<GroupCommitter> logger)
    : BackgroundService
{
    private readonly Channel<PgWork> _queue = Channel.CreateUnbounded<PgWork>(new UnboundedChannelOptions { SingleReader = true });

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
            await ExecuteInTransactionAsync(batch, ct);
            foreach (var work in batch) work.Completion.TrySetResult();
        }
        catch (PostgresException ex) when (batch.Count > 1 && !IsConnectionLevel(ex))
        {
            logger.LogWarning(ex, "Group commit of {Count} units failed; retrying them one by one", batch.Count);
            foreach (var work in batch)
            {
                try
                {
                    await ExecuteInTransactionAsync([work], ct);
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

    private async Task ExecuteInTransactionAsync(IReadOnlyList<PgWork> units, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var npgsqlBatch = new NpgsqlBatch(connection, transaction);
        foreach (var unit in units)
            foreach (var command in unit.Commands)
                npgsqlBatch.BatchCommands.Add(command);
        try
        {
            await npgsqlBatch.ExecuteNonQueryAsync(ct);
            await transaction.CommitAsync(ct);
        }
        finally
        {
            // A command belongs to one batch at a time; release them so a retry can reuse them.
            npgsqlBatch.BatchCommands.Clear();
        }
    }

    private static bool IsConnectionLevel(PostgresException ex) =>
        ex.SqlState.StartsWith("08", StringComparison.Ordinal) || ex.SqlState.StartsWith("57", StringComparison.Ordinal);
}
