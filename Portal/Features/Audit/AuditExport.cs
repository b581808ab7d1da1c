using System.Data;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Domain.Audit;

namespace Portal.Features.Audit;

public enum AuditExportFormatKind { Jsonl, Csv, Proofs }

/// <summary>An export request after parsing: a seq or time bound for each end, optional filters.</summary>
public sealed record AuditExportQuery(
    AuditExportFormatKind Format, long? FromSeq, DateTimeOffset? FromTime, long? ToSeq, DateTimeOffset? ToTime,
    IReadOnlyList<string> Types, string? Actor, string? Subject = null)
{
    /// <summary>
    /// A file name that says what the file holds, so a folder of exports handed to a regulator explains itself:
    /// "audit-trading.halted-subject-global-from-20261206T0000Z-seq-12-1058.csv". Only letters, digits, '.', '-' and '_'.
    /// </summary>
    public string FileName(long from, long to, string extension)
    {
        var parts = new List<string> { Format == AuditExportFormatKind.Proofs ? "audit-proofs" : "audit" };
        parts.AddRange(Types);
        if (Actor is not null) parts.Add("actor-" + Actor);
        if (Subject is not null) parts.Add("subject-" + Subject);
        if (FromTime is { } fromTime) parts.Add("from-" + fromTime.UtcDateTime.ToString("yyyyMMdd'T'HHmm'Z'", CultureInfo.InvariantCulture));
        if (ToTime is { } toTime) parts.Add("to-" + toTime.UtcDateTime.ToString("yyyyMMdd'T'HHmm'Z'", CultureInfo.InvariantCulture));
        parts.Add(string.Create(CultureInfo.InvariantCulture, $"seq-{from}-{to}"));
        var name = new string(string.Join('-', parts).Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_').ToArray());
        return (name.Length > 150 ? name[..150] : name) + "." + extension;
    }
}

/// <summary>
/// Streams audit events out in constant memory: rows are read in bounded chunks in one read-only snapshot and
/// written as they are read. JSONL (<see cref="AuditExportFormat"/>) is for proof and is always a contiguous seq
/// range, because the offline verifier follows the hash links from line to line; "proofs" is JSONL filtered by type,
/// actor, subject or time, each line with its inclusion proof against one signed tree head; CSV is for spreadsheets
/// and may be filtered the same way.
/// </summary>
public sealed class AuditExport(AuditChainStore store, AuditKeys keys, AuditProofs proofs, AuditCheckpointer checkpointer, IOptions<AuditOptions> options)
{
    private const int ProofChunk = 1_000;

    private const int Chunk = 20_000;
    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";

    /// <summary>
    /// The seq range a query covers: seq bounds are inclusive; a time range [from, to) becomes the seqs from the
    /// first event at or after <c>from</c> to the last event before <c>to</c>. No upper bound means the head now.
    /// </summary>
    public async Task<(long From, long To)> ResolveRangeAsync(AuditExportQuery query, CancellationToken ct)
    {
        var (connection, transaction) = await store.OpenSnapshotAsync(ct);
        await using (connection)
        await using (transaction)
        {
            var head = await AuditChainStore.ReadHeadAsync(connection, transaction, ct);
            var from = query.FromSeq ?? (query.FromTime is { } fromTime
                ? await ScalarAsync(connection, transaction, "select min(seq) from audit_events where time >= $1", fromTime, ct) ?? head.Seq + 1
                : 1);
            var to = query.ToSeq ?? (query.ToTime is { } toTime
                ? await ScalarAsync(connection, transaction, "select max(seq) from audit_events where time < $1", toTime, ct) ?? 0
                : head.Seq);
            return (Math.Max(from, 1), Math.Min(to, head.Seq));
        }
    }

    /// <summary>Writes the JSONL lines of seqs <paramref name="from"/>..<paramref name="to"/>.</summary>
    public async Task WriteJsonlAsync(Stream output, long from, long to, CancellationToken ct)
    {
        var writer = PipeWriter.Create(output, new StreamPipeWriterOptions(minimumBufferSize: 1 << 16, leaveOpen: true));
        await ReadChunkedAsync(from, to, "select seq, hash, prev_hash, canonical from audit_events where seq >= $1 and seq <= $2", [],
            async reader =>
            {
                AuditExportFormat.WriteLine(writer, reader.GetInt64(0), reader.GetFieldValue<byte[]>(1), reader.GetFieldValue<byte[]>(2), reader.GetFieldValue<byte[]>(3));
                if (writer.UnflushedBytes >= 1 << 16) await writer.FlushAsync(ct);
            }, ct);
        await writer.CompleteAsync();
    }

    /// <summary>
    /// Writes CSV with a header row: seq, time, actor, actor_name, type, subject, payload, prev_hash, hash. actor is the
    /// id recorded in the chain; actor_name is who that is now for people to read (an API key's name or a person's
    /// email, as on the audit page; empty for system actors and ids no longer known). Within the seq range,
    /// a time range filters exactly (the range's ends may hold events timed outside it, e.g. a late-recorded halt).
    /// </summary>
    public async Task WriteCsvAsync(Stream output, long from, long to, AuditExportQuery query, CancellationToken ct)
    {
        await using var writer = new StreamWriter(output, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
        await writer.WriteAsync("seq,time,actor,actor_name,type,subject,payload,prev_hash,hash\r\n");
        var (filters, parameters) = Filters(query);
        var line = new StringBuilder();
        await ReadChunkedAsync(from, to,
            $"select seq, time, actor, {AuditSearch.ActorNameSql}, type, subject, payload::text, prev_hash, hash from audit_events e where seq >= $1 and seq <= $2" + filters, parameters,
            async reader =>
            {
                // Read in column order: the reader is sequential.
                var seq = reader.GetInt64(0);
                line.Clear()
                    .Append(seq.ToString(CultureInfo.InvariantCulture)).Append(',')
                    .Append(reader.GetFieldValue<DateTimeOffset>(1).UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture)).Append(',');
                Cell(line, reader.GetString(2), text: true).Append(',');
                Cell(line, reader.IsDBNull(3) ? "" : reader.GetString(3), text: true).Append(',');
                Cell(line, reader.GetString(4), text: true).Append(',');
                Cell(line, reader.GetString(5), text: true).Append(',');
                Cell(line, reader.GetString(6), text: false).Append(',')
                    .Append(Convert.ToHexStringLower(reader.GetFieldValue<byte[]>(7))).Append(',')
                    .Append(Convert.ToHexStringLower(reader.GetFieldValue<byte[]>(8))).Append("\r\n");
                await writer.WriteAsync(line, ct);
            }, ct);
    }

    /// <summary>SQL conditions after the seq range ($1, $2) for the query's filters, and their values ($3 on).</summary>
    private static (string Sql, List<object> Parameters) Filters(AuditExportQuery query)
    {
        var filters = new StringBuilder();
        var parameters = new List<object>();
        void Filter(string condition, object value)
        {
            parameters.Add(value);
            filters.Append(" and ").Append(condition.Replace("@", "$" + (2 + parameters.Count).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        }
        if (query.Types.Count > 0) Filter("type = any(@)", query.Types.ToArray());
        if (query.Actor is not null) Filter("actor = @", query.Actor);
        if (query.Subject is not null) Filter("subject = @", query.Subject);
        if (query.FromTime is { } fromTime) Filter("time >= @", fromTime.ToUniversalTime());
        if (query.ToTime is { } toTime) Filter("time < @", toTime.ToUniversalTime());
        return (filters.ToString(), parameters);
    }

    /// <summary>
    /// The smallest signed tree head holding seq <paramref name="to"/>; when none does yet, asks for a checkpoint of the
    /// head now (the same verification and signing the cadence would do). Null when none can be had.
    /// </summary>
    public async Task<SignedCheckpoint?> TreeHeadForAsync(long to, CancellationToken ct)
    {
        if (to < 1) return null;
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var (connection, transaction) = await store.OpenSnapshotAsync(ct);
            await using (connection)
            await using (transaction)
                if (await proofs.CoveringNoteAsync(connection, transaction, to, ct) is { } head) return head;
            if (attempt == 0) await checkpointer.CheckpointAsync(force: true, ct);
        }
        return null;
    }

    /// <summary>Writes the filtered lines of seqs <paramref name="from"/>..<paramref name="to"/>, each with its inclusion proof against <paramref name="head"/>.</summary>
    public async Task WriteProofsAsync(Stream output, long from, long to, AuditExportQuery query, SignedCheckpoint head, CancellationToken ct)
    {
        await using var writer = new StreamWriter(output, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
        var (filters, parameters) = Filters(query);
        var (connection, transaction) = await store.OpenSnapshotAsync(ct);
        await using (connection)
        await using (transaction)
        {
            await using var command = new NpgsqlCommand(
                $"select seq, hash, prev_hash, canonical from audit_events where seq >= $1 and seq <= $2{filters} order by seq limit {ProofChunk}", connection, transaction);
            var start = new NpgsqlParameter<long> { TypedValue = from };
            command.Parameters.Add(start);
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = to });
            foreach (var value in parameters) command.Parameters.Add(new NpgsqlParameter { Value = value });
            while (true)
            {
                var rows = new List<(long Seq, byte[] Hash, byte[] Prev, byte[] Canonical)>(ProofChunk);
                await using (var reader = await command.ExecuteReaderAsync(ct))
                    while (await reader.ReadAsync(ct))
                        rows.Add((reader.GetInt64(0), reader.GetFieldValue<byte[]>(1), reader.GetFieldValue<byte[]>(2), reader.GetFieldValue<byte[]>(3)));
                if (rows.Count == 0) return;
                // One query for the subtrees of the whole chunk: neighbouring events share most of their proofs.
                var proofsOfChunk = await AuditMerkleStore.ProveAsync(connection, transaction,
                    subtree => rows.SelectMany(r => MerkleTree.InclusionProof(r.Seq - 1, head.Seq, subtree).Append(Separator)).ToList(), ct)
                    ?? throw new InvalidOperationException("The stored Merkle tree is incomplete; the proofs cannot be built.");
                var at = 0;
                foreach (var row in rows)
                {
                    var end = proofsOfChunk.IndexOf(Separator, at);
                    await writer.WriteAsync(AuditExportFormat.FormatProofLine(row.Seq, row.Hash, row.Prev, row.Canonical, proofsOfChunk.GetRange(at, end - at)));
                    await writer.WriteAsync('\n');
                    at = end + 1;
                }
                if (rows.Count < ProofChunk || rows[^1].Seq >= to) return;
                start.TypedValue = rows[^1].Seq + 1;
            }
        }
    }

    // Marks where one event's proof ends in a chunk's concatenated proofs (compared by reference).
    private static readonly byte[] Separator = new byte[MerkleTree.HashSize];

    /// <summary>The signed manifest of a filtered ("proofs") export: count, filter and the tree head every line proves against.</summary>
    public async Task<string> ProofsManifestAsync(long from, long to, AuditExportQuery query, SignedCheckpoint? head, CancellationToken ct)
    {
        var (filters, parameters) = Filters(query);
        long count;
        var (connection, transaction) = await store.OpenSnapshotAsync(ct);
        await using (connection)
        await using (transaction)
        await using (var command = new NpgsqlCommand($"select count(*) from audit_events where seq >= $1 and seq <= $2{filters}", connection, transaction))
        {
            command.Parameters.AddWithValue(from);
            command.Parameters.AddWithValue(to);
            foreach (var value in parameters) command.Parameters.Add(new NpgsqlParameter { Value = value });
            count = (long)(await command.ExecuteScalarAsync(ct))!;
        }
        var filter = System.Text.Json.JsonSerializer.Serialize(new { types = query.Types, actor = query.Actor, subject = query.Subject, fromTime = query.FromTime, toTime = query.ToTime });
        var manifest = new AuditExportManifest(from, to, count, null, null, [], keys.KeyId, AuditExportFormat.ProofsFormat, head, null, filter);
        return manifest.ToSignedNote(keys.Signer, options.Value.Origin);
    }

    /// <summary>The signed manifest of the JSONL export of seqs <paramref name="from"/>..<paramref name="to"/>: count, end hashes, the checkpoints inside and the tail's proof.</summary>
    public async Task<string> SignedManifestAsync(long from, long to, CancellationToken ct)
    {
        var head = from <= to ? await TreeHeadForAsync(to, ct) : null;
        var manifest = await ManifestAsync(from, to, head, ct);
        return manifest.ToSignedNote(keys.Signer, options.Value.Origin);
    }

    /// <summary>The manifest of the JSONL export of seqs <paramref name="from"/>..<paramref name="to"/>: count, end hashes and the checkpoints inside.</summary>
    public async Task<AuditExportManifest> ManifestAsync(long from, long to, SignedCheckpoint? head, CancellationToken ct)
    {
        var fromFile = store.ReadFileCheckpoints();
        var (connection, transaction) = await store.OpenSnapshotAsync(ct);
        await using (connection)
        await using (transaction)
        {
            long count = 0;
            byte[]? first = null, last = null;
            await using (var command = new NpgsqlCommand("""
                select count(*),
                       (select hash from audit_events where seq >= $1 and seq <= $2 order by seq limit 1),
                       (select hash from audit_events where seq >= $1 and seq <= $2 order by seq desc limit 1)
                from audit_events where seq >= $1 and seq <= $2
                """, connection, transaction))
            {
                command.Parameters.AddWithValue(from);
                command.Parameters.AddWithValue(to);
                await using var reader = await command.ExecuteReaderAsync(ct);
                await reader.ReadAsync(ct);
                count = reader.GetInt64(0);
                if (!reader.IsDBNull(1)) first = reader.GetFieldValue<byte[]>(1);
                if (!reader.IsDBNull(2)) last = reader.GetFieldValue<byte[]>(2);
            }
            var checkpoints = (await store.ReadCheckpointsAsync(connection, transaction, fromFile, ct))
                .Where(c => c.Seq >= from && c.Seq <= to && keys.IsValid(c))
                .ToList();
            var tailProof = head is null || count == 0 ? null
                : await AuditMerkleStore.ProveAsync(connection, transaction, subtree => MerkleTree.InclusionProof(to - 1, head.Seq, subtree), ct);
            return new AuditExportManifest(from, to, count, first, last, checkpoints, keys.KeyId, AuditExportFormat.JsonlFormat,
                tailProof is null ? null : head, tailProof);
        }
    }

    /// <summary>RFC 4180 quoting. Text cells that a spreadsheet would run as a formula get a leading apostrophe (OWASP's advice).</summary>
    private static StringBuilder Cell(StringBuilder line, string value, bool text)
    {
        if (text && value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r') value = "'" + value;
        if (value.AsSpan().IndexOfAny(",\"\r\n") < 0) return line.Append(value);
        return line.Append('"').Append(value.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
    }

    private async Task ReadChunkedAsync(long from, long to, string sql, IReadOnlyList<object> parameters,
        Func<NpgsqlDataReader, Task> write, CancellationToken ct)
    {
        if (from > to) return;
        var (connection, transaction) = await store.OpenSnapshotAsync(ct);
        await using (connection)
        await using (transaction)
        {
            // Windows of seqs, as verification reads them (see AuditChainStore.Chunk).
            await AuditChainStore.PreferIndexScanAsync(connection, transaction, ct);
            await using var command = new NpgsqlCommand(sql + " order by seq", connection, transaction);
            var start = new NpgsqlParameter<long>();
            var through = new NpgsqlParameter<long>();
            command.Parameters.Add(start);
            command.Parameters.Add(through);
            foreach (var value in parameters) command.Parameters.Add(new NpgsqlParameter { Value = value });
            for (var windowStart = from; windowStart <= to;)
            {
                (start.TypedValue, through.TypedValue) = (windowStart, Math.Min(to, windowStart + Chunk - 1));
                var rows = 0;
                await using (var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, ct))
                    while (await reader.ReadAsync(ct))
                    {
                        rows++;
                        await write(reader);
                    }
                windowStart = through.TypedValue + 1;
                // Over a gap (or a filter matching nothing for a while) go straight to the next stored seq.
                if (rows == 0 && windowStart <= to)
                    windowStart = await AuditChainStore.FirstSeqAfterAsync(connection, transaction, windowStart - 1, ct) ?? to + 1;
            }
        }
    }

    private static async Task<long?> ScalarAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, DateTimeOffset value, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.AddWithValue(value.ToUniversalTime());
        return await command.ExecuteScalarAsync(ct) is long seq ? seq : null;
    }
}
