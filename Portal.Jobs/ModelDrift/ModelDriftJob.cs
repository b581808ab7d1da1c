using Hangfire;

namespace Portal.Jobs.ModelDrift;

/// <summary>What the nightly job asks of the drift check; Portal implements it (the samples live in Portal's database).</summary>
public interface IModelDriftRunner
{
    /// <summary>Checks every model that has a baseline, stores each run, and raises drift.</summary>
    Task RunScheduledChecksAsync(CancellationToken ct);
}

/// <summary>The recurring model drift check. Tests call <see cref="RunAsync"/> directly, with no Hangfire server.</summary>
public sealed class ModelDriftJob(IModelDriftRunner runner)
{
    public const string RecurringJobId = "model-drift-check";

    // A retry would compare the same samples again; one run at a time across instances, since each reads every model's data.
    [AutomaticRetry(Attempts = 0)]
    [DisableConcurrentExecution(timeoutInSeconds: 3600)]
    public Task RunAsync(CancellationToken ct) => runner.RunScheduledChecksAsync(ct);
}
