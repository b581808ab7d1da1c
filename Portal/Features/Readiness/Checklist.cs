using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Portal.Features.Readiness;

public enum ItemStatus { Green, Amber, Red }

/// <summary>One line of the seed's checklist, with what it rests on: a drill's latest run or a document.</summary>
public sealed record ChecklistItem(string Section, string Key, string Title, ItemStatus Status, string Detail, string? Drill, DrillRun? Evidence, string? Document)
{
    public string StatusText => Status.ToString().ToLowerInvariant();
}

public sealed record ChecklistView(DateTimeOffset At, DeploymentPhaseView? Phase, IReadOnlyList<ChecklistItem> Items)
{
    public bool AllGreen => Items.All(i => i.Status == ItemStatus.Green);

    public IEnumerable<ChecklistItem> NotGreen => Items.Where(i => i.Status != ItemStatus.Green);
}

/// <summary>
/// The seed's "validation checklist before live", computed from evidence only: an item is green when its drill's
/// latest run passed within <c>Readiness:EvidenceMaxAge</c>, amber when that pass is older, red when the latest run
/// failed or there is none. Documents are green when the file is present (and not empty) in <c>Readiness:DocsPath</c>.
/// </summary>
public sealed class Checklist(NpgsqlDataSource db, DeploymentPhaseStore phases, IOptions<ReadinessOptions> options, TimeProvider clock)
{
    public const string MustHaveWorking = "Must have working";
    public const string MustTest = "Must test";
    public const string MustDocument = "Must document";

    /// <summary>The seed's items, in its words, each with the drill or document that evidences it.</summary>
    public static readonly IReadOnlyList<(string Section, string Key, string Title, string? Drill, string? Document)> Items =
    [
        (MustHaveWorking, "kill-switch", "Kill switch endpoint tested", Drills.ManualStop, null),
        (MustHaveWorking, "risk-limits", "All risk limits enforced", Drills.Limits, null),
        (MustHaveWorking, "bad-ticks", "Data validation catching bad ticks", Drills.BadTicks, null),
        (MustHaveWorking, "audit", "Audit trail writing immutable logs", Drills.AuditImmutable, null),
        (MustHaveWorking, "metrics", "Metrics showing in Prometheus", Drills.Metrics, null),
        (MustTest, "network-cable", "Pull network cable - system stops trading", Drills.BrokerLoss, null),
        (MustTest, "million-order", "Send $1M order - gets rejected", Drills.MillionOrder, null),
        (MustTest, "rate-limit", "Send 100 orders/second - rate limit works", Drills.RateBurst, null),
        (MustTest, "kill-redis", "Kill Redis - system goes to safe mode", Drills.RedisLoss, null),
        (MustTest, "manual-stop", "Manual emergency stop - halts in <1 second", Drills.ManualStop, null),
        (MustDocument, "doc-risk-limits", "Risk limit configuration", null, "risk-limits.md"),
        (MustDocument, "doc-emergency", "Emergency procedures", null, "emergency-procedures.md"),
        (MustDocument, "doc-rollback", "Rollback process", null, "rollback.md"),
        (MustDocument, "doc-incident", "Incident response plan", null, "incident-response.md"),
    ];

    public static bool IsDocument(string name) => Items.Any(i => i.Document == name);

    public async Task<ChecklistView> ComputeAsync(CancellationToken ct)
    {
        var latest = await LatestRunsAsync(ct);
        var now = clock.GetUtcNow();
        var maxAge = options.Value.EvidenceMaxAge;
        var items = Items.Select(item =>
        {
            if (item.Document is { } document)
            {
                var present = DocumentPath(document) is { } path && new FileInfo(path).Length > 0;
                return new ChecklistItem(item.Section, item.Key, item.Title, present ? ItemStatus.Green : ItemStatus.Red,
                    present ? $"{document} is deployed with this version." : $"{document} is missing from {options.Value.ResolvedDocsPath}.", null, null, document);
            }
            var drill = item.Drill!;
            if (!latest.TryGetValue(drill, out var run))
                return new ChecklistItem(item.Section, item.Key, item.Title, ItemStatus.Red, $"No run of the drill \"{Drills.Title(drill)}\" yet.", drill, null, null);
            var status = !run.Ok ? ItemStatus.Red : now - run.FinishedAt > maxAge ? ItemStatus.Amber : ItemStatus.Green;
            var detail = status switch
            {
                ItemStatus.Red => "Failed: " + run.Summary,
                ItemStatus.Amber => $"Passed, but the evidence is older than {maxAge}: {run.Summary}",
                _ => run.Summary,
            };
            return new ChecklistItem(item.Section, item.Key, item.Title, status, detail, drill, run, null);
        }).ToList();
        return new ChecklistView(now, phases.Current, items);
    }

    /// <summary>The full path of a checklist document when it exists, else null.</summary>
    public string? DocumentPath(string name)
    {
        if (!IsDocument(name)) return null;
        var path = Path.Combine(options.Value.ResolvedDocsPath, name);
        return File.Exists(path) ? path : null;
    }

    public async Task<DrillRun?> FindRunAsync(Guid id, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"select {Columns} from drill_runs d where d.id = $1");
        command.Parameters.AddWithValue(id);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    /// <summary>The audit record a drill run links to, as stored (seq, time, actor, type, subject, payload, hash).</summary>
    public async Task<JsonElement?> AuditRecordAsync(long seq, CancellationToken ct)
    {
        await using var command = db.CreateCommand("""
            select json_build_object('seq', seq, 'time', time, 'actor', actor, 'type', type, 'subject', subject, 'payload', payload,
                                     'hash', encode(hash, 'hex'), 'prevHash', encode(prev_hash, 'hex'))::text
            from audit_events where seq = $1
            """);
        command.Parameters.AddWithValue(seq);
        return await command.ExecuteScalarAsync(ct) is string json ? JsonDocument.Parse(json).RootElement.Clone() : null;
    }

    private async Task<Dictionary<string, DrillRun>> LatestRunsAsync(CancellationToken ct)
    {
        // A row counts only with the audit record it names: same seq and hash, and a record of this run with this result.
        // Anyone with the application role can insert rows; an audit record is in the chain the witness vouches for.
        await using var command = db.CreateCommand($"""
            select distinct on (d.drill) {Columns} from drill_runs d
            join audit_events a on a.seq = d.audit_seq and a.hash = d.audit_hash and a.type = '{DrillRunner.AuditType}'
                and a.subject = 'drill:' || d.drill and a.payload->>'runId' = d.id::text and (a.payload->>'ok')::boolean = d.ok
            order by d.drill, d.finished_at desc
            """);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var runs = new Dictionary<string, DrillRun>(StringComparer.Ordinal);
        while (await reader.ReadAsync(ct))
        {
            var run = Read(reader);
            runs[run.Drill] = run;
        }
        return runs;
    }

    private const string Columns = "d.id, d.drill, d.ok, d.summary, d.figures::text, d.actor, d.started_at, d.finished_at, d.audit_seq";

    private static DrillRun Read(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetString(1), r.GetBoolean(2), r.GetString(3),
        JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(4)) ?? [], r.GetString(5),
        r.GetFieldValue<DateTimeOffset>(6), r.GetFieldValue<DateTimeOffset>(7), r.GetInt64(8));
}
