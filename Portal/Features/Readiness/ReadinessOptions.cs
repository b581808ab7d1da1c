using Microsoft.Extensions.Options;
using Portal.Jobs;

namespace Portal.Features.Readiness;

/// <summary><c>Readiness:*</c>: how fresh the checklist's evidence must be, where the documents are, when drills run.</summary>
public sealed class ReadinessOptions
{
    public const string Section = "Readiness";

    /// <summary>Passing evidence older than this turns its item amber.</summary>
    public TimeSpan EvidenceMaxAge { get; set; } = TimeSpan.FromDays(2);

    /// <summary>Folder holding the runbooks (risk-limits.md, emergency-procedures.md, rollback.md, incident-response.md);
    /// relative paths are under the application's folder, where the build copies <c>docs/</c>.</summary>
    public string DocsPath { get; set; } = "docs";

    /// <summary>When the scheduled drills run (cron, UTC). A run puts this instance in safe mode for a few seconds (the
    /// Redis and broker drills), so the default is early morning UTC, before the US session.</summary>
    public string DrillCron { get; set; } = "0 6 * * *";

    /// <summary>The manual-stop drill fails when the first refused order comes later than this after the halt began.</summary>
    public TimeSpan ManualStopMaxDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a fault drill waits for safe mode to engage, and again for it to clear.</summary>
    public TimeSpan FaultWait { get; set; } = TimeSpan.FromSeconds(15);

    public string ResolvedDocsPath => Path.IsPathRooted(DocsPath) ? DocsPath : Path.Combine(AppContext.BaseDirectory, DocsPath);
}

/// <summary>Refuses start-up with a message naming each bad key.</summary>
public sealed class ReadinessOptionsValidator : IValidateOptions<ReadinessOptions>
{
    public ValidateOptionsResult Validate(string? name, ReadinessOptions o)
    {
        var s = ReadinessOptions.Section;
        var errors = new List<string>();
        if (o.EvidenceMaxAge < TimeSpan.FromMinutes(1) || o.EvidenceMaxAge > TimeSpan.FromDays(90))
            errors.Add($"{s}:EvidenceMaxAge must be between 00:01:00 and 90 days (was {o.EvidenceMaxAge}).");
        if (string.IsNullOrWhiteSpace(o.DocsPath)) errors.Add($"{s}:DocsPath is empty.");
        if (JobSchedule.Problem(o.DrillCron) is { } cronProblem) errors.Add($"{s}:DrillCron '{o.DrillCron}' {cronProblem}");
        if (o.ManualStopMaxDelay <= TimeSpan.Zero || o.ManualStopMaxDelay > TimeSpan.FromSeconds(10))
            errors.Add($"{s}:ManualStopMaxDelay must be greater than zero and at most 00:00:10 (was {o.ManualStopMaxDelay}).");
        if (o.FaultWait < TimeSpan.FromSeconds(1) || o.FaultWait > TimeSpan.FromMinutes(2))
            errors.Add($"{s}:FaultWait must be between 00:00:01 and 00:02:00 (was {o.FaultWait}).");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
