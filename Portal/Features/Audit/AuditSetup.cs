using Hangfire;
using Microsoft.Extensions.Options;
using Portal.Jobs.Audit;

namespace Portal.Features.Audit;

public static class AuditSetup
{
    /// <summary>The audit trail, its checkpoints, verification (also as the nightly Hangfire job), export, search and the live append feed. Needs <c>AddPortalJobs</c>.</summary>
    public static IHostApplicationBuilder AddAuditTrail(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AuditOptions>().BindConfiguration(AuditOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AuditOptions>, AuditOptionsValidator>();
        builder.Services.AddSingleton<AuditKeys>();
        builder.Services.AddSingleton<AuditCheckpointFile>();
        builder.Services.AddSingleton<AuditChainStore>();
        builder.Services.AddSingleton<AuditTrail>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AuditTrail>());
        builder.Services.AddSingleton<AuditCheckpointer>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AuditCheckpointer>());
        builder.Services.AddSingleton<AuditVerification>();
        builder.Services.AddSingleton<IAuditVerificationRunner>(sp => sp.GetRequiredService<AuditVerification>());
        builder.Services.AddSingleton<IAuditChainVerifier>(sp => sp.GetRequiredService<AuditVerification>());
        builder.Services.AddSingleton<AuditExport>();
        builder.Services.AddSingleton<IAuditSearch, AuditSearch>();
        builder.Services.AddSingleton<AuditAppendedFeed>();
        builder.Services.AddSingleton<IAuditAppendedFeed>(sp => sp.GetRequiredService<AuditAppendedFeed>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AuditAppendedFeed>());
        builder.Services.AddHostedService<AuditJobRegistration>();
        return builder;
    }
}

/// <summary>Schedules the nightly verification (<c>Audit:VerifyCron</c>, UTC); retries while the database is unreachable.</summary>
public sealed class AuditJobRegistration(IRecurringJobManager jobs, IOptions<AuditOptions> options, ILogger<AuditJobRegistration> logger)
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
                jobs.AddOrUpdate<AuditVerificationJob>(AuditVerificationJob.RecurringJobId, job => job.RunAsync(CancellationToken.None),
                    options.Value.VerifyCron, new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc });
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Could not schedule the audit verification job; retrying");
            }
            await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken);
        }
    }
}
