using StackExchange.Redis;

namespace Portal.Infrastructure.Redis;

public sealed class RedisOptions
{
    /// <summary>Prefix for every key and channel, so several deployments (or tests) can share one server.</summary>
    public string KeyPrefix { get; set; } = "portal:";
}

public static class RedisSetup
{
    public static IHostApplicationBuilder AddRedis(this IHostApplicationBuilder builder)
    {
        var connectionString = builder.Configuration.GetConnectionString("Redis") is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException("Configuration key 'ConnectionStrings:Redis' is missing (environment variable ConnectionStrings__Redis).");
        builder.Services.AddOptions<RedisOptions>().BindConfiguration("Redis");
        // Resolved while the host starts (the trading-state services need it), never first on a request
        // thread. If Redis is down it keeps reconnecting in the background while orders are refused.
        builder.Services.AddSingleton<IConnectionMultiplexer>(_ =>
        {
            var options = ConfigurationOptions.Parse(connectionString);
            options.AbortOnConnectFail = false;
            options.ConnectTimeout = 2000;
            options.SyncTimeout = 1000;
            options.AsyncTimeout = 1000;
            options.ReconnectRetryPolicy = new LinearRetry(250);
            return ConnectionMultiplexer.Connect(options);
        });
        builder.Services.AddSingleton<RedisFaultSwitch>();
        builder.Services.AddSingleton<RateCounter>();
        return builder;
    }
}
