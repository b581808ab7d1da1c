using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using StackExchange.Redis.Configuration;

namespace Portal.Infrastructure.Redis;

public sealed class RedisOptions
{
    public const string Section = "Redis";

    /// <summary>Prefix for every key and channel, so several deployments (or tests) can share one server.</summary>
    public string KeyPrefix { get; set; } = "portal:";

    /// <summary>
    /// How long one command may wait for its reply before the order it serves is refused. A dead Redis is noticed by
    /// its closed connection at once (safe mode), not by this; this bounds a reply that is only slow
    /// (docs/architecture.md, "Redis replies").
    /// </summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(5);
}

public sealed class RedisOptionsValidator : IValidateOptions<RedisOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisOptions o) =>
        o.OperationTimeout < TimeSpan.FromMilliseconds(100) || o.OperationTimeout > TimeSpan.FromSeconds(30)
            ? ValidateOptionsResult.Fail($"{RedisOptions.Section}:OperationTimeout must be between 00:00:00.1 and 00:00:30.")
            : string.IsNullOrWhiteSpace(o.KeyPrefix)
                ? ValidateOptionsResult.Fail($"{RedisOptions.Section}:KeyPrefix must not be empty.")
                : ValidateOptionsResult.Success;
}

public static class RedisSetup
{
    public static IHostApplicationBuilder AddRedis(this IHostApplicationBuilder builder)
    {
        var connectionString = builder.Configuration.GetConnectionString("Redis") is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException("Configuration key 'ConnectionStrings:Redis' is missing (environment variable ConnectionStrings__Redis).");
        builder.Services.AddOptions<RedisOptions>().BindConfiguration(RedisOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<RedisOptions>, RedisOptionsValidator>();
        // Checked here too, before anything is built: the connection below is made from it while the host starts.
        var settings = builder.Configuration.GetSection(RedisOptions.Section).Get<RedisOptions>() ?? new RedisOptions();
        if (new RedisOptionsValidator().Validate(null, settings) is { Failed: true } invalid)
            throw new OptionsValidationException(RedisOptions.Section, typeof(RedisOptions), invalid.Failures);
        var timeout = (int)settings.OperationTimeout.TotalMilliseconds;
        // Resolved while the host starts (the trading-state services need it), never first on a request
        // thread. If Redis is down it keeps reconnecting in the background while orders are refused.
        builder.Services.AddKeyedSingleton(ConnectionCut.Redis, new ConnectionCut(ConnectionCut.Redis));
        builder.Services.AddSingleton<IConnectionMultiplexer>(sp =>
        {
            var options = ConfigurationOptions.Parse(connectionString);
            options.Tunnel = new CuttableTunnel(sp.GetRequiredKeyedService<ConnectionCut>(ConnectionCut.Redis));
            options.AbortOnConnectFail = false;
            options.ConnectTimeout = 2000;
            options.SyncTimeout = timeout;
            options.AsyncTimeout = timeout;
            options.ReconnectRetryPolicy = new LinearRetry(250);
            // Fail closed at once: without a connection a command fails now instead of waiting in the library's backlog
            // for OperationTimeout. Orders counted just before a crash were held for one timeout per batch queued ahead of
            // them (docs/emergency-procedures.md, "What Redis may do"); every caller already treats a failure as a refusal or
            // a lost hint.
            options.BacklogPolicy = BacklogPolicy.FailFast;
            return ConnectionMultiplexer.Connect(options);
        });
        builder.Services.AddSingleton<RateCounter>();
        return builder;
    }

    /// <summary>Every socket to Redis is created through the drill's cut (the Redis-loss drill cuts the real connection).</summary>
    private sealed class CuttableTunnel(ConnectionCut cut) : Tunnel
    {
        public override ValueTask BeforeSocketConnectAsync(EndPoint endPoint, ConnectionType connectionType, Socket? socket, CancellationToken cancellationToken)
        {
            if (socket is not null) cut.Track(socket);
            return ValueTask.CompletedTask;
        }
    }
}
