using Hangfire;
using Microsoft.Extensions.Options;
using Portal.Jobs.Readiness;

namespace Portal.Features.Readiness;

public static class ReadinessSetup
{
    /// <summary>The deployment phase, the drills (also as a Hangfire job), the checklist and phase changes. Needs <c>AddPortalJobs</c>.</summary>
    public static IHostApplicationBuilder AddReadiness(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ReadinessOptions>().BindConfiguration(ReadinessOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ReadinessOptions>, ReadinessOptionsValidator>();
        builder.Services.AddSingleton<DeploymentPhaseStore>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DeploymentPhaseStore>());
        builder.Services.AddSingleton<ReadinessDrills>();
        builder.Services.AddSingleton<DrillRunner>();
        builder.Services.AddSingleton<IReadinessDrillRunner>(sp => sp.GetRequiredService<DrillRunner>());
        builder.Services.AddTransient<ReadinessDrillJob>();
        builder.Services.AddSingleton<Checklist>();
        builder.Services.AddSingleton<PhaseChanges>();
        builder.Services.AddHostedService<ReadinessJobRegistration>();
        return builder;
    }
}

/// <summary>Schedules the drills (<c>Readiness:DrillCron</c>, UTC); retries while the database is unreachable.</summary>
public sealed class ReadinessJobRegistration(IRecurringJobManager jobs, IOptions<ReadinessOptions> options, ILogger<ReadinessJobRegistration> logger)
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
                jobs.AddOrUpdate<ReadinessDrillJob>(ReadinessDrillJob.RecurringJobId, job => job.RunAsync(CancellationToken.None),
                    options.Value.DrillCron, new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc });
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Could not schedule the readiness drills; retrying");
            }
            await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken);
        }
    }
}
