using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Observability;

/// <summary>/metrics: the seed's series after real activity, HTTP and runtime series, and who may scrape.</summary>
public sealed class MetricsEndpointTests
{
    /// <summary>The seed memo's series, exactly as named there.</summary>
    private static readonly string[] SeedSeries =
    [
        "trading_orders_total", "trading_orders_rejected", "trading_risk_breaches", "trading_kill_switch",
        "data_validation_failures", "data_staleness_seconds", "model_drift_score", "model_prediction_confidence",
    ];

    private static readonly string[] HttpAndRuntimeSeries =
        ["http_requests_received_total", "http_request_duration_seconds", "process_cpu_seconds_total", "process_working_set_bytes", "dotnet_collection_count_total"];

    private const string ScrapeToken = "scrape-token-for-tests-0123456789abcdef";

    [Fact]
    public async Task A_scrape_from_an_allowed_network_after_activity_has_every_series_with_sensible_values()
    {
        await using var portal = await PortalFactory.StartRealServerAsync();
        using var scraper = new HttpClient { BaseAddress = portal.RealAddress };
        var before = Parse(await ScrapeAsync(scraper));

        // Samples are process-wide and other tests run alongside: compare increases, which only this activity guarantees.
        using var orders = await ApiClientAsync(portal, Scopes.Orders);
        portal.SetPrice("AAPL", 100m);
        Assert.Equal(HttpStatusCode.Created, (await orders.PostOrderAsync(OrderRequests.Market("metrics-ok", 1m))).StatusCode);
        portal.SetPrice("AAPL", 1_000m);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await orders.PostOrderAsync(OrderRequests.Market("metrics-big", 1_000m))).StatusCode);
        await portal.Get<KillSwitch>().HaltAsync("metrics test", HaltMode.Halt, "metrics-strategy", "test", automatic: false, CancellationToken.None);
        await SeedSeriesActivity.PostTicksAsync(portal);
        await SeedSeriesActivity.PostObservationsAndCheckDriftAsync(portal);

        var text = await ScrapeAsync(scraper);
        var after = Parse(text);
        foreach (var series in SeedSeries.Concat(HttpAndRuntimeSeries))
            Assert.True(text.Contains($"# TYPE {series} ", StringComparison.Ordinal) && after.Keys.Any(k => k == series || k.StartsWith(series + "{", StringComparison.Ordinal) || k.StartsWith(series + "_", StringComparison.Ordinal)),
                $"/metrics lacks {series}");
        Assert.True(Increase("trading_orders_total{decision=\"accepted\",source=\"trading\"}") >= 1);
        Assert.True(Increase("trading_orders_total{decision=\"rejected\",source=\"trading\"}") >= 1);
        Assert.True(Increase("trading_orders_rejected{reason=\"MaxOrderValue\",source=\"trading\"}") >= 1);
        Assert.True(Increase("trading_risk_breaches{limit=\"MaxOrderValue\",source=\"trading\"}") >= 1);
        Assert.True(IncreaseOf("trading_kill_switch", "trigger=\"manual\"", "source=\"trading\"") >= 1);
        Assert.True(IncreaseOf("http_requests_received_total", "code=\"201\"", "method=\"POST\"") >= 1);
        Assert.True(IncreaseOf("http_requests_received_total", "code=\"422\"", "method=\"POST\"") >= 1);
        Assert.True(after["process_working_set_bytes"] > 1_000_000);
        Assert.True(Increase("data_validation_failures{reason=\"PriceTooLow\",source=\"trading\"}") >= 1, "the refused tick is not counted");
        Assert.InRange(after["portal_data_age_seconds{symbol=\"MSFT\"}"], 0, 60);
        Assert.Contains("# TYPE data_staleness_seconds histogram", text, StringComparison.Ordinal);
        Assert.True(Increase("data_staleness_seconds_count") >= 1, "the processed tick's age is not observed");
        Assert.True(IncreaseOf("model_prediction_confidence_count", "model=\"metrics-model\"") >= 200);
        Assert.InRange(after["model_drift_score{model=\"metrics-model\"}"], 0.5, 1);

        double Increase(string sample) => after.GetValueOrDefault(sample) - before.GetValueOrDefault(sample);
        double IncreaseOf(string family, params string[] labels)
        {
            double Sum(Dictionary<string, double> samples) => samples
                .Where(s => s.Key.StartsWith(family + "{", StringComparison.Ordinal) && labels.All(l => s.Key.Contains(l, StringComparison.Ordinal)))
                .Sum(s => s.Value);
            return Sum(after) - Sum(before);
        }
    }

    [Fact]
    public async Task Outside_the_allowed_networks_only_the_scrape_token_admits()
    {
        await using var portal = await PortalFactory.StartRealServerAsync(new Dictionary<string, string?>
        {
            ["Metrics:AllowedNetworks"] = "10.0.0.0/8, 192.168.0.0/16",
            ["Metrics:ScrapeToken"] = ScrapeToken,
        });
        using var anonymous = new HttpClient { BaseAddress = portal.RealAddress };
        using var wrongToken = WithBearer(portal, ScrapeToken + "x");
        using var apiKey = await ApiClientAsync(portal, Scopes.Orders);
        using var token = WithBearer(portal, ScrapeToken);

        foreach (var (caller, client) in new[] { ("no credentials", anonymous), ("a wrong token", wrongToken), ("an API key", apiKey) })
        {
            var refused = await client.GetAsync("/metrics");
            Assert.True(refused.StatusCode == HttpStatusCode.Unauthorized, $"{caller}: {(int)refused.StatusCode}");
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.DoesNotContain("trading_orders_total", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        Assert.Contains("# TYPE process_cpu_seconds_total counter", await ScrapeAsync(token), StringComparison.Ordinal);
    }

    private static HttpClient WithBearer(PortalFactory portal, string token)
    {
        var client = new HttpClient { BaseAddress = portal.RealAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private static async Task<HttpClient> ApiClientAsync(PortalFactory portal, string scope)
    {
        var (key, _) = await portal.Get<ApiKeyService>().CreateAsync("metrics-" + Guid.NewGuid().ToString("N")[..12], [scope], strategies: [StrategyGrants.AllOpen]);
        return WithBearer(portal, key);
    }

    private static async Task<string> ScrapeAsync(HttpClient client)
    {
        var response = await client.GetAsync("/metrics");
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"scrape refused: {(int)response.StatusCode}");
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>Prometheus text format: each sample line "name{labels} value" keyed by everything before the value.</summary>
    private static Dictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var split = line.LastIndexOf(' ');
            var value = line[(split + 1)..];
            samples[line[..split]] = value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                _ => double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture),
            };
        }
        return samples;
    }
}
