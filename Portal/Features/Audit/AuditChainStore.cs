using System.Data;
using Npgsql;
using Portal.Domain.Audit;

namespace Portal.Features.Audit;

/// <summary>Reads the chain, its head and its checkpoints for verification and export.</summary>
public sealed class AuditChainStore(NpgsqlDataSource db, AuditKeys keys, AuditCheckpointFile file)
{
    /// <summary>Rows per query while streaming: bounded queries, so stopping early never drains a huge result.</summary>
    private const int Chunk = 50_000;

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
    public List<SignedCheckpoint> ReadFileCheckpoints() => file.Read(keys.KeyId);

    /// <summary>
    /// Checkpoints of the current key from the database and from the file, each once. Signatures are not checked
    /// here: a forged one must be reported, not dropped.
    /// </summary>
    public async Task<List<SignedCheckpoint>> ReadCheckpointsAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, IEnumerable<SignedCheckpoint> fromFile, CancellationToken ct)
    {
        var all = new List<SignedCheckpoint>();
        await using (var command = new NpgsqlCommand(
            "select seq, hash, time, signature from audit_checkpoints where key_id = $1 order by seq", connection, transaction))
        {
            command.Parameters.AddWithValue(keys.KeyId);
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                all.Add(new SignedCheckpoint(reader.GetInt64(0), reader.GetFieldValue<byte[]>(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetString(3)));
        }
        all.AddRange(fromFile);
        return all.DistinctBy(c => (c.Seq, c.Signature)).OrderBy(c => c.Seq).ToList();
    }

    /// <summary>The newest checkpoint row of the current key whose signature holds (forged rows are passed over).</summary>
    public async Task<SignedCheckpoint?> LatestValidCheckpointAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            "select seq, hash, time, signature from audit_checkpoints where key_id = $1 order by seq desc, id desc", connection, transaction);
        command.Parameters.AddWithValue(keys.KeyId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var checkpoint = new SignedCheckpoint(reader.GetInt64(0), reader.GetFieldValue<byte[]>(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetString(3));
            if (keys.Verifier.Verify(checkpoint)) return checkpoint;
        }
        return null;
    }

    /// <summary>The newest checkpoint whose signature holds: a trusted place to start an incremental run from.</summary>
    public SignedCheckpoint? LatestValid(IEnumerable<SignedCheckpoint> checkpoints, long atMostSeq) =>
        checkpoints.Where(c => c.Seq <= atMostSeq && keys.Verifier.Verify(c)).MaxBy(c => c.Seq);

    /// <summary>Streams rows with <paramref name="afterSeq"/> &lt; seq ≤ <paramref name="toSeq"/> in seq order until <paramref name="accept"/> returns false.</summary>
    public static async Task ReadRowsAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, long afterSeq, long toSeq, Func<AuditRow, bool> accept, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            select seq, time, actor, type, subject, payload::text, prev_hash, hash, canonical
            from audit_events where seq > $1 and seq <= $2 order by seq limit $3
            """, connection, transaction);
        var after = new NpgsqlParameter<long>();
        command.Parameters.Add(after);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = toSeq });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = Chunk });
        var last = afterSeq;
        while (last < toSeq)
        {
            after.TypedValue = last;
            var rows = 0;
            await using (var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    rows++;
                    var row = new AuditRow(
                        reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                        reader.GetString(5), reader.GetFieldValue<byte[]>(6), reader.GetFieldValue<byte[]>(7), reader.GetFieldValue<byte[]>(8));
                    last = row.Seq;
                    if (!accept(row)) return;
                }
            }
            if (rows < Chunk) return;
        }
    }

    /// <summary>The first seq above <paramref name="seq"/>, if any: rows past the head were not appended by the chain writer.</summary>
    public static async Task<long?> FirstSeqAfterAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long seq, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("select min(seq) from audit_events where seq > $1", connection, transaction);
        command.Parameters.AddWithValue(seq);
        return await command.ExecuteScalarAsync(ct) is long found ? found : null;
    }

    public sealed record RangeCheck(long Verified, long? FirstBadSeq, string? Problem, long? LastGoodCheckpointSeq, long HeadSeq, byte[] HeadHash);

    /// <summary>Verifies rows after <paramref name="start"/> (or from the beginning) up to <paramref name="head"/>, within the caller's snapshot.</summary>
    public async Task<RangeCheck> VerifyRangeAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, SignedCheckpoint? start, List<SignedCheckpoint> checkpoints,
        (long Seq, byte[] Hash) head, CancellationToken ct)
    {
        var verifier = new AuditVerifier(new AuditVerifierOptions
        {
            StartSeq = start?.Seq ?? 0,
            StartHash = start?.Hash,
            Checkpoints = checkpoints,
            CheckpointVerifier = keys.Verifier,
        });
        await ReadRowsAsync(connection, transaction, start?.Seq ?? 0, head.Seq, row => verifier.Append(row), ct);
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
