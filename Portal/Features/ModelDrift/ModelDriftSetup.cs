using Hangfire;
using Microsoft.Extensions.Options;
using Portal.Jobs.ModelDrift;

namespace Portal.Features.ModelDrift;

public static class ModelDriftSetup
{
    /// <summary>Observation ingest, baselines and the drift check (also as the nightly Hangfire job). Needs <c>AddPortalJobs</c> and <c>AddKillSwitch</c>.</summary>
    public static IHostApplicationBuilder AddModelDrift(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ModelDriftOptions>().BindConfiguration(ModelDriftOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ModelDriftOptions>, ModelDriftOptionsValidator>();
        builder.Services.AddSingleton<ObservationStore>();
        builder.Services.AddSingleton<ModelDriftStore>();
        builder.Services.AddSingleton<ModelDriftService>();
        builder.Services.AddSingleton<IModelDriftRunner>(sp => sp.GetRequiredService<ModelDriftService>());
        builder.Services.AddHostedService<ModelDriftJobRegistration>();
        return builder;
    }
}

/// <summary>Schedules the drift check (<c>ModelDrift:CheckCron</c>, UTC); retries while the database is unreachable.</summary>
public sealed class ModelDriftJobRegistration(IRecurringJobManager jobs, IOptions<ModelDriftOptions> options, ILogger<ModelDriftJobRegistration> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // AddOrUpdate blocks on the database: off the start-up path.
        await Task.Yield();
        while (true)
        {
            try
            {
                jobs.AddOrUpdate<ModelDriftJob>(ModelDriftJob.RecurringJobId, job => job.RunAsync(CancellationToken.None),
                    options.Value.CheckCron, new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc });
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Could not schedule the model drift job; retrying");
            }
            await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken);
        }
    }
}
