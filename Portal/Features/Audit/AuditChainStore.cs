using System.Data;
using System.Threading.Channels;
using Npgsql;
using Portal.Domain.Audit;

namespace Portal.Features.Audit;

/// <summary>Reads the chain, its head and its checkpoints for verification and export.</summary>
public sealed class AuditChainStore(NpgsqlDataSource db, AuditKeys keys, AuditCheckpointFile file)
{
    /// <summary>
    /// Seqs per query while streaming: bounded queries, so stopping early never drains a huge result. Each query asks
    /// for a window of seqs, not "the next N after X": a window keeps the plan an index range scan of at most this
    /// many rows whatever the statistics say, where "order by seq limit N" over the rest of the chain made PostgreSQL
    /// sort the whole remainder once per chunk when the table had not been analyzed since a bulk append.
    /// </summary>
    public const int Chunk = 50_000;

    /// <summary>Rows handed from the reading task to the verifying one at a time.</summary>
    private const int Batch = 1_000;

    public NpgsqlDataSource DataSource => db;

    /// <summary>A read-only snapshot: head, checkpoints and rows read in it agree with each other.</summary>
    public async Task<(NpgsqlConnection Connection, NpgsqlTransaction Transaction)> OpenSnapshotAsync(CancellationToken ct)
    {
        var connection = await db.OpenConnectionAsync(ct);
        try
        {
            var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct);
            await using (var readOnly = new NpgsqlCommand("set transaction read only", connection, transaction))
                await readOnly.ExecuteNonQueryAsync(ct);
            return (connection, transaction);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public static async Task<(long Seq, byte[] Hash)> ReadHeadAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("select seq, hash from audit_head where id = 1", connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) throw new InvalidOperationException("The audit_head row is missing.");
        return (reader.GetInt64(0), reader.GetFieldValue<byte[]>(1));
    }

    /// <summary>
    /// The file's checkpoints of the current key. Read them before opening the snapshot: each signs a head committed
    /// before it was written, so the snapshot then has every row they name.
    /// </summary>
    public List<SignedCheckpoint> ReadFileCheckpoints() => file.Read();

    /// <summary>
    /// Checkpoints of every key from the database and from the file, each once. Signatures are not checked here: a
    /// forged one, or one by a key nobody pinned, must be reported, not dropped.
    /// </summary>
    public async Task<List<SignedCheckpoint>> ReadCheckpointsAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, IEnumerable<SignedCheckpoint> fromFile, CancellationToken ct)
    {
        var all = new List<SignedCheckpoint>();
        await using (var command = new NpgsqlCommand(
            "select seq, hash, time, signature, note, key_id from audit_checkpoints order by seq", connection, transaction))
        {
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) all.Add(ReadCheckpoint(reader));
        }
        all.AddRange(fromFile);
        return all.DistinctBy(c => (c.Seq, c.Signature)).OrderBy(c => c.Seq).ToList();
    }

    /// <summary>The newest checkpoint row a pinned key signed (forged rows are passed over); with <paramref name="notesOnly"/>, the newest signed tree head.</summary>
    public async Task<SignedCheckpoint?> LatestValidCheckpointAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct, bool notesOnly = false)
    {
        await using var command = new NpgsqlCommand(
            "select seq, hash, time, signature, note, key_id from audit_checkpoints" + (notesOnly ? " where note is not null" : "") + " order by seq desc, id desc",
            connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var checkpoint = ReadCheckpoint(reader);
            if ((!notesOnly || checkpoint.IsNote) && keys.IsValid(checkpoint)) return checkpoint;
        }
        return null;
    }

    /// <summary>
    /// A checkpoint row: its note when it has one. A note that does not parse is kept as the row's columns, whose
    /// signature then fails, so it is reported rather than dropped.
    /// </summary>
    private static SignedCheckpoint ReadCheckpoint(NpgsqlDataReader reader) =>
        (reader.IsDBNull(4) ? null : CheckpointNote.Parse(reader.GetString(4)))
        ?? new SignedCheckpoint(reader.GetInt64(0), reader.GetFieldValue<byte[]>(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetString(3)) { KeyId = reader.GetString(5) };

    /// <summary>The newest checkpoint whose signature holds: a trusted place to start an incremental run from.</summary>
    public SignedCheckpoint? LatestValid(IEnumerable<SignedCheckpoint> checkpoints, long atMostSeq) =>
        checkpoints.Where(c => c.Seq <= atMostSeq && keys.IsValid(c)).MaxBy(c => c.Seq);

    /// <summary>
    /// Reads rows with <paramref name="afterSeq"/> &lt; seq ≤ <paramref name="toSeq"/> in seq order into
    /// <paramref name="rows"/>, in arrays of up to <see cref="Batch"/>, then completes it. Without
    /// <paramref name="withColumns"/> only what the hash and the links need is read (time, actor, type, subject and
    /// payload come back empty).
    /// </summary>
    public static async Task ReadRowsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long afterSeq, long toSeq,
        bool withColumns, ChannelWriter<AuditRow[]> rows, CancellationToken ct)
    {
        try
        {
            await using var command = new NpgsqlCommand(withColumns
                ? "select seq, prev_hash, hash, canonical, time, actor, type, subject, payload::text from audit_events where seq > $1 and seq <= $2 order by seq"
                : "select seq, prev_hash, hash, canonical from audit_events where seq > $1 and seq <= $2 order by seq",
                connection, transaction);
            var after = new NpgsqlParameter<long>();
            var through = new NpgsqlParameter<long>();
            command.Parameters.Add(after);
            command.Parameters.Add(through);
            await PreferIndexScanAsync(connection, transaction, ct);
            var batch = new List<AuditRow>(Batch);
            for (var windowStart = afterSeq; windowStart < toSeq;)
            {
                (after.TypedValue, through.TypedValue) = (windowStart, Math.Min(toSeq, windowStart + Chunk));
                var read = 0;
                // Rows are small: reading each whole into the buffer makes every column read synchronous and cheaper
                // than sequential access would.
                await using (var reader = await command.ExecuteReaderAsync(ct))
                {
                    while (await reader.ReadAsync(ct))
                    {
                        read++;
                        var (seq, prev, hash, canonical) = (reader.GetInt64(0), reader.GetFieldValue<byte[]>(1), reader.GetFieldValue<byte[]>(2), reader.GetFieldValue<byte[]>(3));
                        batch.Add(withColumns
                            ? new AuditRow(seq, reader.GetFieldValue<DateTimeOffset>(4), reader.GetString(5), reader.GetString(6), reader.GetString(7), reader.GetString(8), prev, hash, canonical)
                            : new AuditRow(seq, default, "", "", "", "", prev, hash, canonical));
                        if (batch.Count == Batch)
                        {
                            await rows.WriteAsync([.. batch], ct);
                            batch.Clear();
                        }
                    }
                }
                windowStart = through.TypedValue;
                // An empty window is a gap nobody appended (rows removed, or a head moved far ahead): jump over it
                // rather than walk it window by window.
                if (read == 0 && windowStart < toSeq)
                    windowStart = await FirstSeqAfterAsync(connection, transaction, windowStart, ct) is { } next ? next - 1 : toSeq;
            }
            if (batch.Count > 0) await rows.WriteAsync([.. batch], ct);
            rows.TryComplete();
        }
        catch (Exception ex)
        {
            rows.TryComplete(ex);
        }
    }

    /// <summary>
    /// Window reads are ranges of the primary key, which an index scan returns in order. Without fresh statistics
    /// (after a bulk append, before autovacuum analyzes) PostgreSQL picks a bitmap scan and a sort instead, at about
    /// two thirds of the speed (bench/audit.sh). Lasts until the transaction ends.
    /// </summary>
    public static async Task PreferIndexScanAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        await using var plan = new NpgsqlCommand("set local enable_bitmapscan = off", connection, transaction);
        await plan.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The first seq above <paramref name="seq"/>, if any: rows past the head were not appended by the chain writer.</summary>
    public static async Task<long?> FirstSeqAfterAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long seq, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("select min(seq) from audit_events where seq > $1", connection, transaction);
        command.Parameters.AddWithValue(seq);
        return await command.ExecuteScalarAsync(ct) is long found ? found : null;
    }

    public sealed record RangeCheck(long Verified, long? FirstBadSeq, string? Problem, long? LastGoodCheckpointSeq, long HeadSeq, byte[] HeadHash);

    /// <summary>
    /// Verifies rows after <paramref name="start"/> (or from the beginning) up to <paramref name="head"/>, within the
    /// caller's snapshot. One task reads while this one verifies. <paramref name="compareColumns"/> also checks that
    /// time, actor, type, subject and payload say what the hashed bytes say (the costly part); without it only the
    /// chain itself (hashes, links, checkpoints) is checked. <paramref name="verified"/> gets the rows in seq order, each batch once it verified.
    /// </summary>
    public async Task<RangeCheck> VerifyRangeAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, SignedCheckpoint? start, List<SignedCheckpoint> checkpoints,
        (long Seq, byte[] Hash) head, CancellationToken ct, bool compareColumns = true, IProgress<AuditVerificationProgress>? progress = null,
        Action<AuditRow[]>? verified = null)
    {
        var total = head.Seq - (start?.Seq ?? 0);
        long read = 0;
        var verifier = new AuditVerifier(new AuditVerifierOptions
        {
            StartSeq = start?.Seq ?? 0,
            StartHash = start?.Hash,
            Checkpoints = checkpoints,
            SignatureProblem = keys.SignatureProblem,
            CompareColumns = compareColumns,
        });
        var rows = Channel.CreateBounded<AuditRow[]>(new BoundedChannelOptions(4) { SingleReader = true, SingleWriter = true });
        using (var stopReading = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            var reading = Task.Run(() => ReadRowsAsync(connection, transaction, start?.Seq ?? 0, head.Seq, compareColumns, rows.Writer, stopReading.Token), ct);
            try
            {
                await foreach (var batch in rows.Reader.ReadAllAsync(ct))
                {
                    if (!verifier.Append(batch)) break;
                    verified?.Invoke(batch);
                    read += batch.Length;
                    progress?.Report(new AuditVerificationProgress(read, total));
                }
            }
            finally
            {
                // After the first problem the rest is not needed; the reader must be done before the connection is used again.
                await stopReading.CancelAsync();
                await reading;
            }
        }
        if (verifier.Result.Ok) await rows.Reader.Completion;
        var result = verifier.Complete();
        var lastGood = checkpoints.Where(c => c.Seq <= result.HeadSeq).Select(c => (long?)c.Seq).Max();
        var (firstBad, problem) = (result.FirstBadSeq, result.Problem);
        if (!result.Ok && problem!.StartsWith(AuditProblem.BrokenLink, StringComparison.Ordinal) && firstBad > result.HeadSeq + 1)
        {
            // The writer never leaves gaps in seq, so a gap where the link breaks is a removed row.
            (firstBad, problem) = (result.HeadSeq + 1,
                $"{AuditProblem.MissingRow} at seq {result.HeadSeq + 1}: the chain jumps from seq {result.HeadSeq} to {firstBad} and the link breaks there");
        }
        else if (result.Ok && result.HeadSeq < head.Seq)
        {
            (firstBad, problem) = (result.HeadSeq + 1, $"{AuditProblem.MissingRow} at seq {result.HeadSeq + 1}: the head names seq {head.Seq} but the chain ends at seq {result.HeadSeq}");
        }
        else if (result.Ok && !result.HeadHash.AsSpan().SequenceEqual(head.Hash))
        {
            (firstBad, problem) = (head.Seq, $"head mismatch at seq {head.Seq}: the last row's hash is not the one the head recorded");
        }
        else if (result.Ok && await FirstSeqAfterAsync(connection, transaction, head.Seq, ct) is { } beyond)
        {
            (firstBad, problem) = (beyond, $"head mismatch at seq {beyond}: a row lies beyond the head (seq {head.Seq}), so the chain writer did not append it");
        }
        return new RangeCheck(result.Verified, firstBad, problem, lastGood, result.HeadSeq, result.HeadHash);
    }
}
