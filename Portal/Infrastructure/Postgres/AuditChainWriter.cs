using Npgsql;
using NpgsqlTypes;
using Portal.Domain.Audit;

namespace Portal.Infrastructure.Postgres;

/// <summary>A draft could not be sealed (e.g. its payload is not I-JSON); only the unit that carried it should fail.</summary>
public sealed class AuditSealException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// Appends audit events to the chain inside the caller's transaction: locks the head row, seals the drafts in
/// order after it, inserts them with one statement and moves the head. The head lock is held until the caller
/// commits, so call this after the transaction's other statements (the lock is the last one taken, which keeps
/// concurrent writers free of deadlocks) and commit promptly.
/// </summary>
public static class AuditChainWriter
{
    private const string LockHead = "select seq, hash from audit_head where id = 1 for update";

    // unnest turns the arrays into rows: one statement and one round trip however many events there are.
    private const string Insert = """
        insert into audit_events (seq, time, actor, type, subject, payload, prev_hash, hash, canonical, format_version)
        select seq, time, actor, type, subject, payload::jsonb, prev_hash, hash, canonical, $10
        from unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[], $8::bytea[], $9::bytea[])
            as e (seq, time, actor, type, subject, payload, prev_hash, hash, canonical)
        """;

    private const string MoveHead = "update audit_head set seq = $1, hash = $2 where id = 1";

    /// <returns>The sealed records, in chain order.</returns>
    public static async Task<IReadOnlyList<AuditRecord>> AppendAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<AuditEventDraft> drafts, CancellationToken ct)
    {
        if (drafts.Count == 0) return [];
        long seq;
        byte[] hash;
        await using (var head = new NpgsqlCommand(LockHead, connection, transaction))
        await using (var reader = await head.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct)) throw new InvalidOperationException("The audit_head row is missing; run the migrations.");
            seq = reader.GetInt64(0);
            hash = reader.GetFieldValue<byte[]>(1);
        }

        var records = Seal(drafts, seq, hash);
        var n = records.Length;
        var seqs = new long[n];
        var times = new DateTimeOffset[n];
        var actors = new string[n];
        var types = new string[n];
        var subjects = new string[n];
        var payloads = new string[n];
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
            payloads[i] = System.Text.Encoding.UTF8.GetString(r.Payload);
            prevs[i] = r.PrevHash;
            hashes[i] = r.Hash;
            canonicals[i] = r.Canonical;
        }

        await using var batch = new NpgsqlBatch(connection, transaction);
        var insert = new NpgsqlBatchCommand(Insert);
        insert.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = seqs, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        insert.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = times, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = actors, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = types, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = subjects, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = payloads, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = prevs, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        insert.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = hashes, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        insert.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = canonicals, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        insert.Parameters.Add(new NpgsqlParameter<short> { TypedValue = (short)AuditChain.FormatVersion });
        batch.BatchCommands.Add(insert);
        var move = new NpgsqlBatchCommand(MoveHead);
        move.Parameters.Add(new NpgsqlParameter<long> { TypedValue = records[^1].Seq });
        move.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = records[^1].Hash });
        batch.BatchCommands.Add(move);
        await batch.ExecuteNonQueryAsync(ct);
        return records;
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
