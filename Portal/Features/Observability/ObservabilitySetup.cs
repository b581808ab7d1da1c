using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Portal.Features.Identity;
using Prometheus;

namespace Portal.Features.Observability;

/// <summary>
/// <c>/metrics</c> in the Prometheus text format: the seed's trading series (<see cref="PortalMetrics"/>),
/// HTTP metrics (<c>http_request_*</c>, from UseHttpMetrics) and runtime metrics (prometheus-net's
/// process collectors and the .NET runtime's meter), served only to <see cref="Policies.MetricsScraper"/>.
/// </summary>
public static class ObservabilitySetup
{
    public const string MetricsPath = "/metrics";

    private const string RuntimeMeter = "System.Runtime";

    public static IHostApplicationBuilder AddPortalMetrics(this IHostApplicationBuilder builder)
    {
        // The runtime's own meter only: ASP.NET Core's, Kestrel's and Npgsql's meters record per request and per command,
        // duplicating http_request_* at a cost paid on every order (prometheus-net publishes every meter by default).
        Metrics.ConfigureMeterAdapter(adapter => adapter.InstrumentFilterPredicate = instrument => instrument.Meter.Name == RuntimeMeter);
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
