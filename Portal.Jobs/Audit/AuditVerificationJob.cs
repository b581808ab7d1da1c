using Hangfire;

namespace Portal.Jobs.Audit;

/// <summary>What the nightly job asks of the audit trail; Portal implements it (verification reads Portal's database).</summary>
public interface IAuditVerificationRunner
{
    /// <summary>Verifies the whole chain, signs a checkpoint when it holds, records and reports the result.</summary>
    Task RunScheduledVerificationAsync(CancellationToken ct);
}

/// <summary>The recurring audit verification. Tests call <see cref="RunAsync"/> directly, with no Hangfire server.</summary>
public sealed class AuditVerificationJob(IAuditVerificationRunner runner)
{
    public const string RecurringJobId = "audit-verify";

    // A retry would only repeat the same verdict; one run at a time across instances, since each run reads the whole chain.
    [AutomaticRetry(Attempts = 0)]
    [DisableConcurrentExecution(timeoutInSeconds: 3600)]
    public Task RunAsync(CancellationToken ct) => runner.RunScheduledVerificationAsync(ct);
}
