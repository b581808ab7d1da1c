using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Portal.Features.Identity;
using Prometheus;

namespace Portal.Features.Observability;

/// <summary>
/// <c>/metrics</c> in the Prometheus text format: the seed's trading series (<see cref="PortalMetrics"/>),
/// HTTP metrics (<c>http_request_*</c>, from UseHttpMetrics) and runtime metrics (prometheus-net's
/// process collectors and the .NET runtime's meters), served only to <see cref="Policies.MetricsScraper"/>.
/// </summary>
public static class ObservabilitySetup
{
    public const string MetricsPath = "/metrics";

    public static IHostApplicationBuilder AddPortalMetrics(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<MetricsOptions>().BindConfiguration(MetricsOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<MetricsOptions>, MetricsOptionsValidator>();
        builder.Services.AddSingleton<JobSuccesses>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<JobSuccesses>());
        builder.Services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, MetricsScrapeAuthenticationHandler>(MetricsScrapeAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder().AddPolicy(Policies.MetricsScraper, p => p
            .AddAuthenticationSchemes(MetricsScrapeAuthenticationHandler.SchemeName)
            .RequireAuthenticatedUser());
        return builder;
    }

    public static IEndpointRouteBuilder MapPortalMetrics(this IEndpointRouteBuilder app)
    {
        // The plain text format keeps the series names exactly as the seed gives them: OpenMetrics would add _total to counters.
        app.MapMetrics(settings => settings.EnableOpenMetrics = false, MetricsPath).RequireAuthorization(Policies.MetricsScraper);
        return app;
    }
}
