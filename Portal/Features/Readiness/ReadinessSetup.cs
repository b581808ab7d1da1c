using Microsoft.Extensions.Options;
using Portal.Jobs;
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
        builder.Services.AddThisInstanceHttpClient();
        builder.Services.AddSingleton<ReadinessDrills>();
        builder.Services.AddSingleton<DrillRunner>();
        builder.Services.AddSingleton<IReadinessDrillRunner>(sp => sp.GetRequiredService<DrillRunner>());
        builder.Services.AddTransient<ReadinessDrillJob>();
        builder.Services.AddSingleton<Checklist>();
        builder.Services.AddSingleton<PhaseChanges>();
        builder.Services.AddRecurringJob<ReadinessDrillJob>(ReadinessDrillJob.RecurringJobId,
            sp => sp.GetRequiredService<IOptions<ReadinessOptions>>().Value.DrillCron, job => job.RunAsync(CancellationToken.None));
        return builder;
    }
}
