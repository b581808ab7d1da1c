using System.Globalization;
using System.Text;
using Npgsql;

namespace Portal.Features.Audit;

/// <summary>
/// What the audit page and <c>GET /api/audit/events</c> filter on; null or empty means any. The time range is
/// [<see cref="From"/>, <see cref="To"/>); type, actor and subject match exactly (each has a (column, seq) index).
/// </summary>
public sealed record AuditFilter(
    DateTimeOffset? From = null, DateTimeOffset? To = null, IReadOnlyList<string>? Types = null, string? Actor = null, string? Subject = null)
{
    public static readonly AuditFilter None = new();

    public bool IsEmpty => From is null && To is null && (Types is null || Types.Count == 0) && Actor is null && Subject is null;

    /// <summary>Trimmed, with blanks as null, so that equal filters compare equal.</summary>
    public AuditFilter Normalized() => new(From, To,
        Types?.Select(t => t.Trim()).Where(t => t.Length > 0).Distinct().Order(StringComparer.Ordinal).ToArray() is { Length: > 0 } types ? types : null,
        Blank(Actor), Blank(Subject));

    /// <summary>
    /// The SQL conditions (joined with <c>and</c>, each on an indexed column) and their values, numbered from
    /// <paramref name="firstParameter"/>.
    /// </summary>
    public (string Sql, IReadOnlyList<object> Values) ToSql(int firstParameter)
    {
        var sql = new StringBuilder();
        var values = new List<object>();
        void Condition(string condition, object value)
        {
            sql.Append(" and ").Append(condition.Replace("@", "$" + (firstParameter + values.Count).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
            values.Add(value);
        }
        var normalized = Normalized();
        if (normalized.From is { } from) Condition("time >= @", from.ToUniversalTime());
        if (normalized.To is { } to) Condition("time < @", to.ToUniversalTime());
        if (normalized.Types is { Count: 1 }) Condition("type = @", normalized.Types[0]);
        else if (normalized.Types is { Count: > 1 }) Condition("type = any(@)", normalized.Types.ToArray());
        if (normalized.Actor is { } actor) Condition("actor = @", actor);
        if (normalized.Subject is { } subject) Condition("subject = @", subject);
        return (sql.ToString(), values);
    }

    private static string? Blank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();
}

/// <summary>One row of the audit list.</summary>
/// <param name="ActorName">Who the actor id is, for people to read: an API key's name or a person's email; null for system actors and ids no longer known.</param>
public sealed record AuditListItem(long Seq, DateTimeOffset Time, string Actor, string Type, string Subject, string? ActorName = null);

/// <summary>One event with what proves it: the payload as stored and the chain link (prev hash → hash).</summary>
public sealed record AuditEventDetail(
    long Seq, DateTimeOffset Time, string Actor, string Type, string Subject, string Payload, string PrevHash, string Hash, int FormatVersion, string? ActorName = null);

/// <summary>Reads the audit trail for people: newest first, by keyset on seq.</summary>
public interface IAuditSearch
{
    /// <summary>The newest seq in the chain (0 when empty).</summary>
    Task<long> HeadSeqAsync(CancellationToken ct);

    /// <summary>How many events with seq ≤ <paramref name="upTo"/> match, counting at most <paramref name="cap"/> + 1.</summary>
    Task<long> CountAsync(AuditFilter filter, long upTo, int cap, CancellationToken ct);

    /// <summary>Matching events with seq ≤ <paramref name="upTo"/>, newest first, skipping <paramref name="skip"/>.</summary>
    Task<IReadOnlyList<AuditListItem>> PageAsync(AuditFilter filter, long upTo, int skip, int take, CancellationToken ct);

    Task<AuditEventDetail?> FindAsync(long seq, CancellationToken ct);

    /// <summary>The event types in the chain, for the type filter.</summary>
    Task<IReadOnlyList<string>> TypesAsync(CancellationToken ct);
}

public sealed class AuditSearch(NpgsqlDataSource db) : IAuditSearch
{
    /// <summary>
    /// The actor's name: trails record ids ("apikey:&lt;id&gt;", a person's user id), which stay true when a key or a
    /// person is renamed; compliance reads names. Each is a primary-key probe, for a page of rows. Reads
    /// <c>e.actor</c>: the audit_events row aliased <c>e</c>. The list, the detail and the CSV export all use this.
    /// </summary>
    internal const string ActorNameSql = """
        coalesce(
            (select k.name from api_keys k where k.id = (case when e.actor ~ '^apikey:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then substr(e.actor, 8)::uuid end)),
            (select u."Email" from "AspNetUsers" u where u."Id" = e.actor))
        """;

    public async Task<long> HeadSeqAsync(CancellationToken ct)
    {
        await using var command = db.CreateCommand("select seq from audit_head where id = 1");
        return await command.ExecuteScalarAsync(ct) is long seq ? seq : 0;
    }

    public async Task<long> CountAsync(AuditFilter filter, long upTo, int cap, CancellationToken ct)
    {
        // Seqs are contiguous from 1 (the chain writer leaves no gaps), so the unfiltered count needs no scan.
        if (filter.IsEmpty) return Math.Max(upTo, 0);
        var (conditions, values) = filter.ToSql(3);
        await using var command = db.CreateCommand(
            $"select count(*) from (select 1 from audit_events where seq <= $1{conditions} limit $2) as matching");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = upTo });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = cap + 1 });
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value });
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    public async Task<IReadOnlyList<AuditListItem>> PageAsync(AuditFilter filter, long upTo, int skip, int take, CancellationToken ct)
    {
        var (conditions, values) = filter.ToSql(4);
        await using var command = db.CreateCommand(
            $"select seq, time, actor, type, subject, {ActorNameSql} from audit_events e where seq <= $1{conditions} order by seq desc offset $2 limit $3");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = upTo });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = skip });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = take });
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value });
        var items = new List<AuditListItem>(take);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            items.Add(new AuditListItem(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5)));
        return items;
    }

    public async Task<AuditEventDetail?> FindAsync(long seq, CancellationToken ct)
    {
        await using var command = db.CreateCommand(
            $"select seq, time, actor, type, subject, jsonb_pretty(payload), prev_hash, hash, format_version, {ActorNameSql} from audit_events e where seq = $1");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = seq });
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        return new AuditEventDetail(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
            reader.GetString(5), Convert.ToHexStringLower(reader.GetFieldValue<byte[]>(6)), Convert.ToHexStringLower(reader.GetFieldValue<byte[]>(7)), reader.GetInt16(8),
            reader.IsDBNull(9) ? null : reader.GetString(9));
    }

    /// <summary>
    /// The events of seqs <paramref name="fromSeq"/>..<paramref name="toSeq"/> matching <paramref name="filter"/>, oldest first,
    /// at most <paramref name="take"/>, each with its payload as indented JSON: the rows of the printable report.
    /// </summary>
    public async Task<IReadOnlyList<AuditEventDetail>> RangeAsync(AuditFilter filter, long fromSeq, long toSeq, int take, CancellationToken ct)
    {
        var (conditions, values) = filter.ToSql(4);
        await using var command = db.CreateCommand(
            $"select seq, time, actor, type, subject, jsonb_pretty(payload), prev_hash, hash, format_version, {ActorNameSql} from audit_events e where seq >= $1 and seq <= $2{conditions} order by seq limit $3");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = fromSeq });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = toSeq });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = take });
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value });
        var rows = new List<AuditEventDetail>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            rows.Add(new AuditEventDetail(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.GetString(5), Convert.ToHexStringLower(reader.GetFieldValue<byte[]>(6)), Convert.ToHexStringLower(reader.GetFieldValue<byte[]>(7)), reader.GetInt16(8),
                reader.IsDBNull(9) ? null : reader.GetString(9)));
        return rows;
    }

    public async Task<IReadOnlyList<string>> TypesAsync(CancellationToken ct)
    {
        // A skip scan over the (type, seq) index: one probe per distinct type instead of reading every row.
        await using var command = db.CreateCommand("""
            with recursive types (type) as (
                (select type from audit_events order by type limit 1)
                union all
                select (select e.type from audit_events e where e.type > types.type order by e.type limit 1) from types where types.type is not null)
            select type from types where type is not null
            """);
        var types = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) types.Add(reader.GetString(0));
        return types;
    }
}
