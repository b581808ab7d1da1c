using Hangfire;

namespace Portal.Jobs.Readiness;

/// <summary>What the scheduled drills ask of Portal, which runs them against itself.</summary>
public interface IReadinessDrillRunner
{
    /// <summary>Runs every readiness drill and stores (and audits) each result as the checklist's evidence.</summary>
    Task RunScheduledDrillsAsync(CancellationToken ct);
}

/// <summary>The recurring readiness drills. Tests call <see cref="RunAsync"/> directly, with no Hangfire server.</summary>
public sealed class ReadinessDrillJob(IReadinessDrillRunner runner)
{
    public const string RecurringJobId = "readiness-drills";

    // A failed drill is evidence, not an error to retry; the drills inject faults, so never two runs at once.
    [AutomaticRetry(Attempts = 0)]
    [DisableConcurrentExecution(timeoutInSeconds: 600)]
    public Task RunAsync(CancellationToken ct) => runner.RunScheduledDrillsAsync(ct);
}
