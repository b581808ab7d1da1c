using Microsoft.Extensions.Options;
using Portal.Jobs;
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
        builder.Services.AddRecurringJob<ModelDriftJob>(ModelDriftJob.RecurringJobId,
            sp => sp.GetRequiredService<IOptions<ModelDriftOptions>>().Value.CheckCron, job => job.RunAsync(CancellationToken.None));
        return builder;
    }
}
