using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Portal.Infrastructure.Alpaca;

namespace Portal.Tests.Infrastructure.Alpaca;

/// <summary>Settings and hosts that point Portal's Alpaca adapter at a <see cref="FakeAlpacaServer"/>, with short timeouts.</summary>
public static class AlpacaTestHost
{
    public static Dictionary<string, string?> Settings(FakeAlpacaServer server) => new()
    {
        ["Broker:Kind"] = "Alpaca",
        ["Broker:Alpaca:BaseUrl"] = server.BaseUrl.ToString(),
        ["Broker:Alpaca:KeyId"] = FakeAlpacaServer.KeyId,
        ["Broker:Alpaca:SecretKey"] = FakeAlpacaServer.SecretKey,
        ["Broker:Alpaca:RequestTimeout"] = "00:00:03",
        ["Broker:Alpaca:TotalTimeout"] = "00:00:15",
        ["Broker:Alpaca:MaxRetries"] = "2",
        ["Broker:Alpaca:RetryDelay"] = "00:00:00.020",
        ["Broker:Alpaca:SyncInterval"] = "00:00:00.500",
        ["Broker:Alpaca:MinSyncGap"] = "00:00:00.050",
        ["Broker:Alpaca:FailuresBeforeStale"] = "2",
        ["Broker:Alpaca:StaleAfter"] = "00:00:15",
        ["Broker:Alpaca:StreamReconnectDelay"] = "00:00:00.050",
        ["Broker:Alpaca:CloseFillWait"] = "00:00:02",
        ["Broker:Alpaca:MarketDataStreamUrl"] = new UriBuilder(server.BaseUrl) { Scheme = "ws", Path = "/v2/iex" }.Uri.ToString(),
        ["Broker:Alpaca:MarketDataLeaseRetry"] = "00:00:00.200",
        ["Broker:Alpaca:MarketDataRestUrl"] = server.BaseUrl.ToString(),
    };

    /// <summary>The Alpaca client alone (no Portal host), logging everything to <paramref name="logs"/>.</summary>
    public static ServiceProvider Client(FakeAlpacaServer server, CapturedLogs? logs = null, Dictionary<string, string?>? overrides = null)
    {
        var settings = Settings(server);
        foreach (var (key, value) in overrides ?? []) settings[key] = value;
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddSingleton(TimeProvider.System);
        services.AddLogging(b =>
        {
            b.SetMinimumLevel(LogLevel.Trace);
            if (logs is not null) b.AddProvider(logs);
        });
        services.AddAlpacaClient();
        return services.BuildServiceProvider(validateScopes: true);
    }
}
