using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using Portal.Features.Halt;
using StackExchange.Redis;

namespace Portal.Features.Health;

/// <summary>
/// <c>/health/live</c>: the process answers. <c>/health/ready</c>: Portal may take orders — Postgres and
/// Redis answer a ping now, the broker and the market-data feed are not silent, and no safe-mode
/// cause holds (so an orchestrator and the order path never disagree). The answer lists each check.
/// </summary>
public static class HealthSetup
{
    public const string ReadyTag = "ready";
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    public static IHostApplicationBuilder AddPortalHealth(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHealthChecks()
            .AddNpgSql(sp => sp.GetRequiredService<NpgsqlDataSource>(), name: "postgres", tags: [ReadyTag], timeout: ProbeTimeout)
            .AddRedis(sp => sp.GetRequiredService<IConnectionMultiplexer>(), name: "redis", tags: [ReadyTag], timeout: ProbeTimeout)
            .AddTypeActivatedCheck<SafeModeCauseCheck>("broker", failureStatus: null, tags: [ReadyTag], args: new object[] { new[] { SafeModeMonitor.BrokerSilent, SafeModeMonitor.BrokerSuspended } })
            .AddTypeActivatedCheck<SafeModeCauseCheck>("market-data", failureStatus: null, tags: [ReadyTag], args: new object[] { new[] { SafeModeMonitor.MarketDataSilent } })
            .AddTypeActivatedCheck<SafeModeCauseCheck>("safe-mode", failureStatus: null, tags: [ReadyTag], args: new object[] { SafeModeMonitor.Causes.ToArray() });
        return builder;
    }

    public static IEndpointRouteBuilder MapPortalHealth(this IEndpointRouteBuilder app)
    {
        // Orchestrators and load balancers probe without credentials; the answers name dependencies, not trading data.
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync }).AllowAnonymous();
        return app;
    }

    /// <summary><c>{"status":"Unhealthy","checks":{"redis":{"status":"Unhealthy","description":"..."},...}}</c>.</summary>
    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new
            {
                status = e.Value.Status.ToString(),
                description = e.Value.Description ?? e.Value.Exception?.Message,
                durationMs = Math.Round(e.Value.Duration.TotalMilliseconds, 1),
            }),
        }, JsonSerializerOptions.Web);
    }

    /// <summary>Unhealthy while any of the given safe-mode causes holds (the monitor checks them every 200 ms).</summary>
    private sealed class SafeModeCauseCheck(SafeModeMonitor safeMode, string[] causes) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var active = safeMode.Active;
            var holding = causes.Where(active.ContainsKey).ToList();
            return Task.FromResult(holding.Count == 0
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy("safe mode: " + string.Join(", ", holding),
                    data: holding.ToDictionary(c => c, c => (object)active[c])));
        }
    }
}
