using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Portal.Features.Halt;

namespace Portal.Features.Health;

/// <summary>
/// <c>/health/live</c>: the process answers. <c>/health/ready</c>: Portal may take orders — healthy
/// exactly when safe mode is off, so an orchestrator and the order path never disagree.
/// </summary>
public static class HealthSetup
{
    public static IHostApplicationBuilder AddPortalHealth(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHealthChecks().AddCheck<SafeModeHealthCheck>("safe-mode", tags: ["ready"]);
        return builder;
    }

    public static IEndpointRouteBuilder MapPortalHealth(this IEndpointRouteBuilder app)
    {
        // Orchestrators and load balancers probe without credentials; the answers reveal no trading data.
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") }).AllowAnonymous();
        return app;
    }

    private sealed class SafeModeHealthCheck(SafeModeMonitor safeMode) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(safeMode.Reason is { } cause
                ? HealthCheckResult.Unhealthy($"safe mode: {cause}", data: safeMode.Active.ToDictionary(a => a.Key, a => (object)a.Value))
                : HealthCheckResult.Healthy());
    }
}
