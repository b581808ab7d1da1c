using System.Text.Json;
using Npgsql;
using Portal.Domain.Audit;
using Portal.Features.Audit;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Audit;

/// <summary>Appending test events and reaching into the database as its superuser, as an attacker with database access would.</summary>
internal static class AuditTestKit
{
    public static string Superuser(this PortalFactory portal) =>
        new NpgsqlConnectionStringBuilder(portal.AppConnectionString) { Username = "postgres", Password = PostgresServer.SuperPassword }.ConnectionString;

    public static AuditEventDraft Draft(int i, string note = "ok") => AuditEventDraft.Create(
        new DateTimeOffset(2025, 3, 14, 9, 0, 0, TimeSpan.Zero).AddMilliseconds(i), "test:writer", i % 2 == 0 ? "test.even" : "test.odd",
        $"item:{i}", new { i, note, amount = "12.50" });

    /// <summary>Appends events 1..count in batches through the group committer.</summary>
    public static async Task AppendAsync(this PortalFactory portal, int count, int first = 1)
    {
        var trail = portal.Get<AuditTrail>();
        for (var start = first; start < first + count; start += 100)
            await trail.AppendAsync(Enumerable.Range(start, Math.Min(100, first + count - start)).Select(i => Draft(i)).ToList());
    }

    public static Task<long> HeadSeqAsync(this PortalFactory portal) =>
        OrderRequests.ScalarAsync(portal.AppConnectionString, "select seq from audit_head");

    /// <summary>
    /// Forces checkpoints until one signs at least <paramref name="seq"/> and returns the newest checkpoint's seq: a forced
    /// checkpoint gives way (null) while the background checkpointer holds the lock, and the background one may sign first.
    /// </summary>
    public static async Task<long> CheckpointAtLeastAsync(this PortalFactory portal, long seq)
    {
        const string newest = "select coalesce(max(seq), 0) from audit_checkpoints";
        await Poll.UntilAsync(async () =>
        {
            await portal.Get<AuditCheckpointer>().CheckpointAsync(force: true, CancellationToken.None);
            return await OrderRequests.ScalarAsync(portal.AppConnectionString, newest) >= seq;
        }, $"a checkpoint at seq {seq} or later");
        return await OrderRequests.ScalarAsync(portal.AppConnectionString, newest);
    }

    /// <summary>As the owner or a superuser: triggers off, events after <paramref name="keep"/> and their checkpoint rows gone, the head moved back, triggers on.</summary>
    public static Task DeleteTailAsync(string connectionString, long keep) => ExecAsync(connectionString, $"""
        alter table audit_events disable trigger audit_events_append_only;
        alter table audit_checkpoints disable trigger audit_checkpoints_append_only;
        alter table audit_head disable trigger audit_head_guard;
        delete from audit_events where seq > {keep};
        delete from audit_checkpoints where seq > {keep};
        update audit_head set seq = {keep}, hash = (select hash from audit_events where seq = {keep});
        alter table audit_events enable always trigger audit_events_append_only;
        alter table audit_checkpoints enable always trigger audit_checkpoints_append_only;
        alter table audit_head enable always trigger audit_head_guard;
        """);

    public static async Task ExecAsync(string connectionString, string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var p in parameters) command.Parameters.AddWithValue(p);
        await command.ExecuteNonQueryAsync();
    }

    public static async Task<List<(long Seq, string Type, string Actor, JsonElement Payload)>> EventsAsync(this PortalFactory portal, string typePrefix = "")
    {
        await using var connection = new NpgsqlConnection(portal.AppConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "select seq, type, actor, payload::text from audit_events where type like $1 || '%' order by seq", connection);
        command.Parameters.AddWithValue(typePrefix);
        var events = new List<(long, string, string, JsonElement)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            events.Add((reader.GetInt64(0), reader.GetString(1), reader.GetString(2), JsonDocument.Parse(reader.GetString(3)).RootElement.Clone()));
        return events;
    }

    /// <summary>
    /// As the superuser with the append-only trigger off: replaces rows from <paramref name="fromSeq"/> on with
    /// re-sealed, consistently linked ones up to <paramref name="toSeq"/> (and the head, if asked), as a careful forger would.
    /// </summary>
    public static async Task RewriteFromAsync(this PortalFactory portal, long fromSeq, bool moveHead, long toSeq = long.MaxValue, string note = "forged")
    {
        await using var connection = new NpgsqlConnection(portal.Superuser());
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await Exec(connection, "alter table audit_events disable trigger audit_events_append_only");
        var rows = new List<(long Seq, DateTimeOffset Time, string Actor, string Type, string Subject, string Payload)>();
        await using (var read = new NpgsqlCommand("select seq, time, actor, type, subject, payload::text from audit_events where seq >= $1 and seq <= $2 order by seq", connection))
        {
            read.Parameters.AddWithValue(fromSeq);
            read.Parameters.AddWithValue(toSeq);
            await using var reader = await read.ExecuteReaderAsync();
            while (await reader.ReadAsync())
                rows.Add((reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5)));
        }
        byte[] prev;
        await using (var before = new NpgsqlCommand("select coalesce((select hash from audit_events where seq = $1), decode(repeat('00', 32), 'hex'))", connection))
        {
            before.Parameters.AddWithValue(fromSeq - 1);
            prev = (byte[])(await before.ExecuteScalarAsync())!;
        }
        foreach (var row in rows)
        {
            var payload = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(row.Payload)!;
            payload["forged"] = JsonSerializer.SerializeToElement(note);
            var record = AuditChain.Seal(AuditEventDraft.Create(row.Time, row.Actor, row.Type, row.Subject, payload), row.Seq, prev);
            await Exec(connection, "update audit_events set payload = $2::jsonb, prev_hash = $3, hash = $4, canonical = $5 where seq = $1",
                row.Seq, System.Text.Encoding.UTF8.GetString(record.Payload), record.PrevHash, record.Hash, record.Canonical);
            prev = record.Hash;
        }
        await Exec(connection, "alter table audit_events enable always trigger audit_events_append_only");
        if (moveHead && rows.Count > 0)
        {
            await Exec(connection, "alter table audit_head disable trigger audit_head_guard");
            await Exec(connection, "update audit_head set hash = $1", prev);
            await Exec(connection, "alter table audit_head enable always trigger audit_head_guard");
        }
        await transaction.CommitAsync();
    }

    public static async Task Exec(NpgsqlConnection connection, string sql, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var p in parameters) command.Parameters.AddWithValue(p);
        await command.ExecuteNonQueryAsync();
    }
}
