using System.Text.Json;
using Portal.Domain.Audit;

namespace Portal.Tests.Domain.Audit;

internal static class AuditFixtures
{
    public static readonly DateTimeOffset Start = new(2025, 3, 14, 9, 26, 53, TimeSpan.Zero);

    public static AuditEventDraft Draft(int i, string note = "ok") => AuditEventDraft.Create(
        Start.AddTicks(i * 12_345_678L),
        i % 3 == 0 ? "job:risk-sweep" : "user:alice",
        i % 2 == 0 ? "limit.changed" : "order.blocked",
        $"account:{i % 7}",
        new { limit = 1000 + i, ratio = i / 8.0, note, tags = new[] { "b", "a" }, nested = new { z = i, a = "é\n" } });

    /// <summary>Seals <paramref name="count"/> events with seqs 1, 2, ... (or every <paramref name="seqStep"/>th seq).</summary>
    public static List<AuditRecord> Chain(int count, int seqStep = 1)
    {
        var records = new List<AuditRecord>(count);
        var prev = AuditChain.GenesisHash.ToArray();
        for (var i = 1; i <= count; i++)
        {
            var record = AuditChain.Seal(Draft(i), (long)i * seqStep, prev);
            records.Add(record);
            prev = record.Hash;
        }

        return records;
    }

    public static List<AuditRow> Rows(IEnumerable<AuditRecord> records) => records.Select(AuditRow.FromRecord).ToList();

    /// <summary>Re-seals every record from <paramref name="fromIndex"/> on, as someone rewriting history consistently would.</summary>
    public static List<AuditRecord> RewriteFrom(List<AuditRecord> records, int fromIndex, string note)
    {
        var rewritten = records.Take(fromIndex).ToList();
        var prev = fromIndex == 0 ? AuditChain.GenesisHash.ToArray() : records[fromIndex - 1].Hash;
        foreach (var original in records.Skip(fromIndex))
        {
            var draft = Draft(rewritten.Count + 1, rewritten.Count == fromIndex ? note : "ok");
            var record = AuditChain.Seal(draft, original.Seq, prev);
            rewritten.Add(record);
            prev = record.Hash;
        }

        return rewritten;
    }

    /// <summary>What PostgreSQL's jsonb hands back: same content, keys reordered (shorter first), spaces added.</summary>
    public static string AsJsonb(string canonicalJson)
    {
        using var document = JsonDocument.Parse(canonicalJson);
        return Jsonb(document.RootElement);
    }

    private static string Jsonb(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "{" + string.Join(", ", element.EnumerateObject()
            .OrderBy(p => p.Name.Length).ThenByDescending(p => p.Name, StringComparer.Ordinal)
            .Select(p => JsonSerializer.Serialize(p.Name) + ": " + Jsonb(p.Value))) + "}",
        JsonValueKind.Array => "[" + string.Join(", ", element.EnumerateArray().Select(Jsonb)) + "]",
        _ => element.GetRawText(),
    };
}
