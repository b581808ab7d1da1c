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
        builder.Services.AddSingleton(new RedisConnection(connectionString));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RedisConnection>());
        builder.Services.AddSingleton(sp => sp.GetRequiredService<RedisConnection>().Multiplexer);
        builder.Services.AddSingleton<RateCounter>();
        return builder;
    }
}

/// <summary>
/// Connects asynchronously before the server takes requests. If Redis is down it keeps retrying in
/// the background while orders are refused (fail closed); no request thread ever blocks on a connect.
/// </summary>
public sealed class RedisConnection(string connectionString) : IHostedService, IAsyncDisposable
{
    private IConnectionMultiplexer? _multiplexer;

    public IConnectionMultiplexer Multiplexer => _multiplexer ?? throw new InvalidOperationException("Redis is used before the host started.");

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        options.SyncTimeout = 1000;
        options.AsyncTimeout = 1000;
        options.ReconnectRetryPolicy = new LinearRetry(250);
        _multiplexer = await ConnectionMultiplexer.ConnectAsync(options);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_multiplexer is not null) await _multiplexer.DisposeAsync();
    }
}
