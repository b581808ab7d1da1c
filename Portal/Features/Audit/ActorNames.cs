using Npgsql;

namespace Portal.Features.Audit;

/// <summary>
/// Who recorded actor ids are, for people to read: trading state, resume requests and the audit trail record ids
/// (a person's user id, "apikey:&lt;id&gt;"), and a screen shows the person's email or the key's name instead, the same
/// lookup as the audit list's actor name (<see cref="AuditSearch.ActorNameSql"/>). System actors ("system",
/// "system:auto-halt") and ids no longer known have no name: they are shown as recorded.
/// </summary>
public interface IActorNames
{
    /// <summary>The name of each of <paramref name="actors"/> that has one; ids without a name are absent.</summary>
    Task<IReadOnlyDictionary<string, string>> NamesAsync(IEnumerable<string> actors, CancellationToken ct);
}

public sealed class ActorNames(NpgsqlDataSource db) : IActorNames
{
    public async Task<IReadOnlyDictionary<string, string>> NamesAsync(IEnumerable<string> actors, CancellationToken ct)
    {
        var ids = actors.Where(a => !string.IsNullOrEmpty(a)).Distinct(StringComparer.Ordinal).ToArray();
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        if (ids.Length == 0) return names;
        await using var command = db.CreateCommand($"select e.actor, {AuditSearch.ActorNameSql} from unnest($1::text[]) as e(actor)");
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids });
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            if (!reader.IsDBNull(1)) names[reader.GetString(0)] = reader.GetString(1);
        return names;
    }
}

/// <summary>An actor id as a screen shows it: its name when it has one, else the id as recorded.</summary>
public static class ActorText
{
    public static string Of(string actor, IReadOnlyDictionary<string, string> names) => names.TryGetValue(actor, out var name) ? name : actor;
}
