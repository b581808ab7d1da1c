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

    /// <summary>
    /// A decision against locked state: when set, the unit's statements and audit events are what <see cref="PgDecision.Decide"/>
    /// returns, run in the batch's transaction after <see cref="PgDecision.Lock"/> locked and read the state (see
    /// <see cref="IBatchLock"/>). It runs again, against the state then, whenever the transaction is retried.
    /// </summary>
    public PgDecision? Decision { get; init; }

    internal UnitPlan? Plan { get; set; }
    internal IReadOnlyList<NpgsqlBatchCommand> PlannedCommands => Plan?.Commands ?? Commands;
    internal IReadOnlyList<AuditEventDraft> PlannedAuditEvents => Plan?.AuditEvents ?? AuditEvents;
    internal TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// What a decision unit commits: rows for tables written set by set, its own statements and audit events. The batch writes
/// every unit's rows of a table with one statement (see <see cref="SetTable{TRow}"/>), before any unit's own statements.
/// </summary>
public sealed record UnitPlan(IReadOnlyList<NpgsqlBatchCommand> Commands, IReadOnlyList<AuditEventDraft> AuditEvents)
{
    public static UnitPlan Nothing { get; } = new([], []);

    public IReadOnlyList<SetRow> Rows { get; init; } = [];
}

/// <summary>Collects what a decision unit commits, as its parts (the decision, the broker's change) add to it.</summary>
public sealed class UnitPlanBuilder
{
    public List<SetRow> Rows { get; } = [];
    public List<NpgsqlBatchCommand> Commands { get; } = [];
    public List<AuditEventDraft> AuditEvents { get; } = [];

    public UnitPlan Build() => new(Commands, AuditEvents) { Rows = Rows };
}

/// <summary>A row for a <see cref="SetTable{TRow}"/>.</summary>
public readonly record struct SetRow(ISetTable Table, object Value);

public interface ISetTable
{
    /// <summary>Tables are written in ascending order: a referenced table before the tables referencing it.</summary>
    int Order { get; }

    NpgsqlBatchCommand Insert(IEnumerable<object> rows);
}

/// <summary>
/// A table written set by set: whatever the number of units in a batch, their rows go in with one statement (an
/// <c>insert ... select from unnest(...)</c> over one array per column). PostgreSQL then parses, plans and executes one
/// statement per table and batch instead of one per row. A failure of the statement names no unit, so the committer
/// retries the units one by one and a bad unit still fails alone.
/// </summary>
public abstract class SetTable<TRow> : ISetTable where TRow : notnull
{
    public abstract int Order { get; }

    public SetRow Row(TRow row) => new(this, row);

    protected abstract NpgsqlBatchCommand Insert(IReadOnlyList<TRow> rows);

    NpgsqlBatchCommand ISetTable.Insert(IEnumerable<object> rows) => Insert(rows.Cast<TRow>().ToList());

    /// <summary>The statement's next <c>$n</c>: one column of every row, as one typed array.</summary>
    protected static void Column<T>(NpgsqlBatchCommand command, IReadOnlyList<TRow> rows, Func<TRow, T> value, NpgsqlTypes.NpgsqlDbType type)
    {
        var values = new T[rows.Count];
        for (var i = 0; i < values.Length; i++) values[i] = value(rows[i]);
        command.Parameters.Add(new NpgsqlParameter<T[]> { TypedValue = values, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | type });
    }
}

/// <summary>
/// A decision unit's lock (shared by every decision unit of a batch), what it needs read under the lock (the lock's business),
/// and its decision on the state read.
/// </summary>
public sealed record PgDecision(IBatchLock Lock, object Reads, Func<object, UnitPlan> Decide);

/// <summary>
/// Starts the batch's transaction, takes the lock its decisions need and reads the state they decide on, in one round trip.
/// The state it returns is handed to each decision unit in batch order; a unit's decision changes it before the next one is
/// decided, so two decisions in one batch see each other as decisions in two batches do.
/// </summary>
public interface IBatchLock
{
    Task<object> BeginLockAndReadAsync(NpgsqlConnection connection, IReadOnlyList<PgWork> decisions, CancellationToken ct);

    /// <summary>
    /// The statements that write the state's net change once every decision of the batch changed it: one per changed row
    /// however many decisions changed it (e.g. an account's cash, moved by every fill of the batch).
    /// </summary>
    IReadOnlyList<NpgsqlBatchCommand> Settle(object state);
}

/// <summary>A decision unit's <see cref="PgDecision.Decide"/> threw: only that unit fails.</summary>
public sealed class UnitDecisionException(PgWork unit, Exception inner) : Exception("A unit's decision failed: " + inner.Message, inner)
{
    public PgWork Unit { get; } = unit;
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

    /// <summary>
    /// Commits the batch. A unit that fails on its own (its decision threw, or PostgreSQL names its statement) fails alone
    /// and the others are committed without it; a failure that names no unit is retried unit by unit.
    /// </summary>
    private async Task WriteAsync(List<PgWork> batch, CancellationToken ct)
    {
        var remaining = new List<PgWork>(batch);
        while (remaining.Count > 0)
        {
            try
            {
                await ExecuteRetryingDeadlocksAsync(remaining, ct);
                foreach (var work in remaining) work.Completion.TrySetResult();
                return;
            }
            catch (Exception ex) when (IsUnitLevel(ex) && Culprit(ex, remaining) is { } culprit)
            {
                logger.LogWarning(ex, "One unit of a group commit of {Count} failed; committing the others without it", remaining.Count);
                culprit.Completion.TrySetException(ex is UnitDecisionException decision ? decision.InnerException! : ex);
                remaining.Remove(culprit);
            }
            catch (Exception ex) when (remaining.Count > 1 && IsUnitLevel(ex))
            {
                logger.LogWarning(ex, "Group commit of {Count} units failed; retrying them one by one", remaining.Count);
                foreach (var work in remaining)
                {
                    try
                    {
                        await ExecuteRetryingDeadlocksAsync([work], ct);
                        work.Completion.TrySetResult();
                    }
                    catch (Exception single)
                    {
                        work.Completion.TrySetException(single is UnitDecisionException decision ? decision.InnerException! : single);
                    }
                }
                return;
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "Group commit of {Count} units failed", remaining.Count);
                foreach (var work in remaining) work.Completion.TrySetException(ex is UnitDecisionException decision ? decision.InnerException! : ex);
                return;
            }
        }
    }

    /// <summary>The unit a failure belongs to, when it names one: a decision that threw, or the statement PostgreSQL refused.</summary>
    private static PgWork? Culprit(Exception ex, IReadOnlyList<PgWork> units) => ex switch
    {
        UnitDecisionException decision => decision.Unit,
        PostgresException { BatchCommand: { } failed } => units.FirstOrDefault(u => u.PlannedCommands.Contains(failed)),
        _ => null,
    };

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
        var settle = await DecideAsync(connection, units, ct);
        await using var npgsqlBatch = new NpgsqlBatch(connection);
        if (settle is null) npgsqlBatch.BatchCommands.Add(new NpgsqlBatchCommand("begin"));
        var rows = units.SelectMany(u => u.Plan?.Rows ?? []).GroupBy(r => r.Table).OrderBy(g => g.Key.Order);
        foreach (var table in rows)
            npgsqlBatch.BatchCommands.Add(table.Key.Insert(table.Select(r => r.Value)));
        foreach (var unit in units)
            foreach (var command in unit.PlannedCommands)
                npgsqlBatch.BatchCommands.Add(command);
        foreach (var command in settle ?? [])
            npgsqlBatch.BatchCommands.Add(command);
        try
        {
            if (!units.Any(u => u.PlannedAuditEvents.Count > 0))
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
                if (unit.PlannedAuditEvents.Count > 0 && (unit.AuditWhen?.Invoke() ?? true))
                    audit.AddRange(unit.PlannedAuditEvents);
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

    /// <summary>
    /// With decision units, the transaction starts with their lock and the read of the state under it (one round trip);
    /// then each decides, in batch order, against that state. Returns the statements that settle the state's net change
    /// (null when there were no decision units and the transaction is not begun yet).
    /// </summary>
    private static async Task<IReadOnlyList<NpgsqlBatchCommand>?> DecideAsync(NpgsqlConnection connection, IReadOnlyList<PgWork> units, CancellationToken ct)
    {
        foreach (var unit in units) unit.Plan = null;
        var decisions = units.Where(u => u.Decision is not null).ToList();
        if (decisions.Count == 0) return null;
        var batchLock = decisions[0].Decision!.Lock;
        var state = await batchLock.BeginLockAndReadAsync(connection, decisions, ct);
        foreach (var unit in decisions)
        {
            try
            {
                unit.Plan = unit.Decision!.Decide(state);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new UnitDecisionException(unit, ex);
            }
        }
        return batchLock.Settle(state);
    }

    /// <summary>A failure one unit may have caused, so retrying the units alone can save the others.</summary>
    private static bool IsUnitLevel(Exception ex) => ex is AuditSealException or UnitDecisionException
        || (ex is PostgresException pg && !pg.SqlState.StartsWith("08", StringComparison.Ordinal) && !pg.SqlState.StartsWith("57", StringComparison.Ordinal));
}
