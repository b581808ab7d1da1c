using Npgsql;
using NpgsqlTypes;
using Portal.Domain.Audit;

namespace Portal.Infrastructure.Postgres;

/// <summary>A draft could not be sealed (e.g. its payload is not I-JSON); only the unit that carried it should fail.</summary>
public sealed class AuditSealException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// Appends audit events to the chain inside a transaction: locks the head row, seals the drafts in order after
/// it, inserts them with one statement and moves the head. The head lock is held until commit, so it is taken
/// after the transaction's other statements (the last lock taken, which keeps concurrent writers free of
/// deadlocks) and the commit follows at once. The group committer sends the lock with its batch and the insert
/// with its COMMIT (two round trips in all); <see cref="AppendAsync"/> serves other transactions.
/// </summary>
public static class AuditChainWriter
{
    // Aliased so the group committer can tell this result from any its units' statements return.
    private const string LockHead = "select seq as audit_head_seq, hash as audit_head_hash from audit_head where id = 1 for update";

    // unnest turns the arrays into rows: one statement however many events there are. The payload column is cut
    // out of the canonical bytes (1-based substring) rather than sent a second time as text.
    private const string Insert = """
        insert into audit_events (seq, time, actor, type, subject, payload, prev_hash, hash, canonical, format_version)
        select seq, time, actor, type, subject, convert_from(substring(canonical from payload_at + 1 for payload_length), 'UTF8')::jsonb,
            prev_hash, hash, canonical, $11
        from unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[], $8::bytea[], $9::bytea[], $10::bytea[])
            as e (seq, time, actor, type, subject, payload_at, payload_length, prev_hash, hash, canonical)
        """;

    private const string MoveHead = "update audit_head set seq = $1, hash = $2 where id = 1";

    public static NpgsqlBatchCommand LockHeadCommand() => new(LockHead);

    /// <summary>Reads the locked head from a reader over a batch that ran <see cref="LockHeadCommand"/>, consuming the reader.</summary>
    public static async Task<(long Seq, byte[] Hash)> ReadHeadAsync(NpgsqlDataReader reader, CancellationToken ct)
    {
        (long, byte[])? head = null;
        do
        {
            if (reader.FieldCount != 2 || reader.GetName(0) != "audit_head_seq") continue;
            while (await reader.ReadAsync(ct)) head = (reader.GetInt64(0), reader.GetFieldValue<byte[]>(1));
        }
        while (await reader.NextResultAsync(ct));
        return head ?? throw new InvalidOperationException("The audit_head row is missing; run the migrations.");
    }

    /// <summary>Appends in the caller's open transaction (locks the head, then inserts: two round trips); commit right after.</summary>
    /// <returns>The sealed records, in chain order.</returns>
    public static async Task<IReadOnlyList<AuditRecord>> AppendAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<AuditEventDraft> drafts, CancellationToken ct)
    {
        if (drafts.Count == 0) return [];
        (long Seq, byte[] Hash) head;
        await using (var lockBatch = new NpgsqlBatch(connection, transaction) { BatchCommands = { LockHeadCommand() } })
        await using (var reader = await lockBatch.ExecuteReaderAsync(ct))
            head = await ReadHeadAsync(reader, ct);
        var (commands, records) = AppendCommands(head, drafts);
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var command in commands) batch.BatchCommands.Add(command);
        await batch.ExecuteNonQueryAsync(ct);
        return records;
    }

    /// <summary>Seals <paramref name="drafts"/> after <paramref name="head"/>; returns the insert and head-move statements.</summary>
    public static (NpgsqlBatchCommand[] Commands, AuditRecord[] Records) AppendCommands((long Seq, byte[] Hash) head, IReadOnlyList<AuditEventDraft> drafts)
    {
        var records = Seal(drafts, head.Seq, head.Hash);
        var n = records.Length;
        var seqs = new long[n];
        var times = new DateTimeOffset[n];
        var actors = new string[n];
        var types = new string[n];
        var subjects = new string[n];
        var payloadStarts = new int[n];
        var payloadLengths = new int[n];
        var prevs = new byte[n][];
        var hashes = new byte[n][];
        var canonicals = new byte[n][];
        for (var i = 0; i < n; i++)
        {
            var r = records[i];
            seqs[i] = r.Seq;
            times[i] = r.Time;
            actors[i] = r.Actor;
            types[i] = r.Type;
            subjects[i] = r.Subject;
            (payloadStarts[i], payloadLengths[i]) = r.PayloadRange.GetOffsetAndLength(r.Canonical.Length);
            prevs[i] = r.PrevHash;
            hashes[i] = r.Hash;
            canonicals[i] = r.Canonical;
        }

        var insert = new NpgsqlBatchCommand(Insert);
        insert.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = seqs, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        insert.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = times, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = actors, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = types, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = subjects, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = payloadStarts, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        insert.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = payloadLengths, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        insert.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = prevs, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        insert.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = hashes, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        insert.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = canonicals, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        insert.Parameters.Add(new NpgsqlParameter<short> { TypedValue = (short)AuditChain.FormatVersion });
        var move = new NpgsqlBatchCommand(MoveHead);
        move.Parameters.Add(new NpgsqlParameter<long> { TypedValue = records[^1].Seq });
        move.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = records[^1].Hash });
        return ([insert, move], records);
    }

    private static AuditRecord[] Seal(IReadOnlyList<AuditEventDraft> drafts, long headSeq, byte[] headHash)
    {
        var records = new AuditRecord[drafts.Count];
        var prev = headHash;
        for (var i = 0; i < drafts.Count; i++)
        {
            try
            {
                records[i] = AuditChain.Seal(drafts[i], headSeq + i + 1, prev);
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException or ObjectDisposedException)
            {
                throw new AuditSealException($"Audit event '{drafts[i].Type}' on '{drafts[i].Subject}' cannot be sealed: {ex.Message}", ex);
            }
            prev = records[i].Hash;
        }
        return records;
    }
}
