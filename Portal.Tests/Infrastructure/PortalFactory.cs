using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Portal.Features.Auth;
using Portal.Features.Broker;
using Portal.Features.Halt;
using Portal.Features.Risk;

namespace Portal.Tests.Infrastructure;

/// <summary>
/// Portal in process on real Postgres (its own database) and real Redis (its own key prefix).
/// Create with <see cref="StartAsync"/>; settings override configuration for one test's needs.
/// </summary>
public sealed class PortalFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;

    private PortalFactory(Dictionary<string, string?> settings) => _settings = settings;

    public string AppConnectionString => _settings["ConnectionStrings:Postgres"]!;
    public string OwnerConnectionString => _settings["ConnectionStrings:PostgresMigrations"]!;

    public static async Task<PortalFactory> StartAsync(IReadOnlyDictionary<string, string?>? overrides = null, string? redisConnection = null)
    {
        var services = await TestServices.GetAsync();
        var (app, owner) = await services.CreateDatabaseAsync();
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = app,
            ["ConnectionStrings:PostgresMigrations"] = owner,
            ["ConnectionStrings:Redis"] = redisConnection ?? services.Redis.ConnectionString,
            ["Redis:KeyPrefix"] = $"t{Guid.NewGuid():N}:",
            ["Demo:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
            // Tests set prices by hand; only the market-data test wants the feed's silence noticed.
            ["TradingState:MarketDataSilenceThreshold"] = "01:00:00",
            ["TradingState:SilenceHaltThreshold"] = "02:00:00",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>()) settings[key] = value;
        return await StartWithAsync(settings);
    }

    /// <summary>A second Portal instance sharing this one's database and Redis, as in a multi-instance deployment.</summary>
    public Task<PortalFactory> StartPeerAsync() => StartWithAsync(new Dictionary<string, string?>(_settings));

    private static async Task<PortalFactory> StartWithAsync(Dictionary<string, string?> settings)
    {
        var factory = new PortalFactory(settings);
        _ = factory.Server; // start the host
        await factory.WaitUntilReadyAsync();
        return factory;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Test");
        foreach (var (key, value) in _settings) builder.UseSetting(key, value);
    }

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    /// <summary>
    /// Orders are refused until the paper broker (when it is the broker), limits and risk view are loaded and safe mode has
    /// cleared; a silent feed does not count, since tests set prices themselves after start.
    /// </summary>
    public async Task WaitUntilReadyAsync()
    {
        for (var i = 0; i < 200; i++)
        {
            if (Services.GetService<PaperBroker>() is not { IsLoaded: false } && Get<RiskBook>().IsReady && Get<Portal.Features.Limits.LimitStore>().Current is not null
                && Get<SafeModeMonitor>().Active.Keys.All(cause => cause == SafeModeMonitor.MarketDataSilent)) return;
            await Task.Delay(50);
        }
        throw new TimeoutException($"Portal did not become ready (safe mode: {Get<SafeModeMonitor>().Reason}).");
    }

    /// <summary>An HTTP client carrying a new API key with the given scopes.</summary>
    public async Task<HttpClient> ClientWithScopesAsync(params string[] scopes)
    {
        var (key, _) = await Get<ApiKeyService>().CreateAsync("test-" + Guid.NewGuid().ToString("N")[..12], scopes);
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public void SetPrice(string symbol, decimal price) =>
        Get<PriceBook>().Update(new PriceMark(symbol, price, Get<TimeProvider>().GetUtcNow(), 0m));
}
