namespace Portal.Features.Readiness;

/// <summary>One stored drill result: the checklist's evidence. <paramref name="AuditSeq"/> is its record in the audit chain.</summary>
public sealed record DrillRun(
    Guid Id, string Drill, bool Ok, string Summary, IReadOnlyDictionary<string, string> Figures, string Actor,
    DateTimeOffset StartedAt, DateTimeOffset FinishedAt, long AuditSeq);

/// <summary>What a drill found: pass or fail, a sentence, and its measured figures (exact text, as audited).</summary>
public sealed record DrillOutcome(bool Ok, string Summary, IReadOnlyDictionary<string, string> Figures)
{
    public static DrillOutcome Fail(string summary, IReadOnlyDictionary<string, string>? figures = null) =>
        new(false, summary, figures ?? new Dictionary<string, string>());
}

/// <summary>The drills, by their stable ids (stored, audited, used in URLs).</summary>
public static class Drills
{
    public const string MillionOrder = "million-order";
    public const string RateBurst = "rate-burst";
    public const string Limits = "limits";
    public const string BadTicks = "bad-ticks";
    public const string RedisLoss = "redis-loss";
    public const string BrokerLoss = "broker-loss";
    public const string ManualStop = "manual-stop";
    public const string AuditImmutable = "audit-immutable";
    public const string Metrics = "metrics";

    /// <summary>In the order "run all" takes them: order-path drills first, faults after, metrics last (it sees the others' series).</summary>
    public static readonly IReadOnlyList<(string Id, string Title)> All =
    [
        (MillionOrder, "$1M order is refused (MaxOrderValue)"),
        (Limits, "Every limit type refuses a breaching order"),
        (RateBurst, "100 orders in one second: exactly the rate allowance accepted"),
        (ManualStop, "Manual stop of the drill strategy refuses orders in < 1 s"),
        (RedisLoss, "Redis unreachable: orders refused in safe mode, then recovery"),
        (BrokerLoss, "Network loss to the broker: orders refused in safe mode, then recovery"),
        (BadTicks, "Bad ticks: each validation rule refuses and counts"),
        (AuditImmutable, "Audit trail: UPDATE, DELETE, TRUNCATE and trigger changes refused, chain verifies"),
        (Metrics, "/metrics exposes every required series"),
    ];

    public static bool IsKnown(string id) => All.Any(d => d.Id == id);

    public static string Title(string id) => All.FirstOrDefault(d => d.Id == id).Title ?? id;
}
