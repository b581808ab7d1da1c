using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Portal.Features.Identity;
using Portal.Jobs;
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
        builder.Services.AddSingleton<LoggingSecurityEventSink>();
        builder.Services.Replace(ServiceDescriptor.Singleton<ISecurityEventSink, AuditedSecurityEventSink>());
        builder.Services.AddSingleton<AuditCheckpointer>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AuditCheckpointer>());
        // AuditWitness logs what matters about each exchange; HttpClient's per-request lines would be every checkpoint's noise.
        builder.Services.AddHttpClient(AuditWitness.HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(5)).RemoveAllLoggers();
        builder.Services.AddSingleton<AuditWitness>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AuditWitness>());
        builder.Services.AddSingleton<AuditVerification>();
        builder.Services.AddSingleton<IAuditVerificationRunner>(sp => sp.GetRequiredService<AuditVerification>());
        builder.Services.AddSingleton<IAuditChainVerifier>(sp => sp.GetRequiredService<AuditVerification>());
        builder.Services.AddSingleton<AuditExport>();
        builder.Services.AddSingleton<AuditProofs>();
        builder.Services.AddSingleton<AuditSearch>();
        builder.Services.AddSingleton<IAuditSearch>(sp => sp.GetRequiredService<AuditSearch>());
        builder.Services.AddSingleton<IActorNames, ActorNames>();
        builder.Services.AddSingleton<AuditAppendedFeed>();
        builder.Services.AddSingleton<IAuditAppendedFeed>(sp => sp.GetRequiredService<AuditAppendedFeed>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AuditAppendedFeed>());
        builder.Services.AddRecurringJob<AuditVerificationJob>(AuditVerificationJob.RecurringJobId,
            sp => sp.GetRequiredService<IOptions<AuditOptions>>().Value.VerifyCron, job => job.RunAsync(CancellationToken.None));
        return builder;
    }
}
