using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Domain.Audit;
using Portal.Features.Audit;
using Portal.Features.Live;
using Portal.Features.MarketData;
using Portal.Features.Risk;
using Portal.Infrastructure.Redis;
using Prometheus;
using StackExchange.Redis;

namespace Portal.Features.Halt;

/// <summary>
/// Safe mode: Portal cannot be sure of its state, so no new orders. Derived, never stored: each
/// cause is checked continuously and clears itself when the cause goes away. It never clears a halt.
/// Redis loss is seen at once through the connection's failure event, the rest within a check period; then no rate
/// reservation is left waiting on Redis (<see cref="RateCounter.Abandon"/>).
/// </summary>
public sealed class SafeModeMonitor(
    IConnectionMultiplexer redis, RateCounter rates, NpgsqlDataSource db, TradingStateStore tradingState, RiskBook risk, BrokerKillPathSync brokerKillPath, MarketDataIngest marketData, MarketDataRelay marketDataRelay,
    AlertPublisher alerts, OpsEventBus live, AuditTrail audit, IOptions<HaltOptions> options, TimeProvider clock, ILogger<SafeModeMonitor> logger) : BackgroundService
{
    public const string RedisUnreachable = "redis-unreachable";
    public const string RedisStateUnverified = "redis-state-unverified";
    public const string PostgresUnreachable = "postgres-unreachable";
    public const string TradingStateUnknown = "trading-state-unknown";
    public const string BrokerSilent = "broker-silent";
    /// <summary>The broker's own kill switch is engaged by someone other than Portal: the broker refuses every order.</summary>
    public const string BrokerSuspended = "broker-suspended";
    public const string MarketDataSilent = "market-data-silent";
    public const string MarketDataRelayDown = "market-data-relay-down";

    /// <summary>The dependencies the portal lists, in order; each cause belongs to one (<see cref="DependencyOf"/>).</summary>
    public static readonly IReadOnlyList<string> Dependencies = ["Postgres", "Redis", "Broker", "Market data"];

    /// <summary>The dependency a cause comes from, so the dependency list and the safe-mode causes cannot disagree.</summary>
    public static string DependencyOf(string cause) => cause switch
    {
        PostgresUnreachable or TradingStateUnknown => "Postgres",
        RedisUnreachable or RedisStateUnverified => "Redis",
        BrokerSilent or BrokerSuspended => "Broker",
        MarketDataSilent or MarketDataRelayDown => "Market data",
        _ => throw new ArgumentOutOfRangeException(nameof(cause), cause, "Not a safe-mode cause."),
    };

    /// <summary>In the order they are reported when several hold at once.</summary>
    public static readonly IReadOnlyList<string> Causes = [PostgresUnreachable, RedisUnreachable, TradingStateUnknown, RedisStateUnverified, BrokerSilent, BrokerSuspended, MarketDataRelayDown, MarketDataSilent];

    private static readonly Gauge SafeModeGauge = Metrics.CreateGauge("portal_safe_mode", "1 while the cause holds Portal in safe mode.",
        new GaugeConfiguration { LabelNames = ["reason"] });

    private static readonly TimeSpan CheckPeriod = TimeSpan.FromMilliseconds(200);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _active = new(StringComparer.Ordinal);
    private readonly DateTimeOffset _startedAt = clock.GetUtcNow();
    private DateTimeOffset _lastPostgresCheck;

    /// <summary>The first active cause, or null when Portal may trade.</summary>
    public string? Reason
    {
        get
        {
            if (_active.IsEmpty) return null;
            foreach (var cause in Causes) if (_active.ContainsKey(cause)) return cause;
            return null;
        }
    }

    /// <summary>Each active cause and since when.</summary>
    public IReadOnlyDictionary<string, DateTimeOffset> Active => new Dictionary<string, DateTimeOffset>(_active);

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionFailed += OnRedisFailed;
        foreach (var cause in Causes) SafeModeGauge.WithLabels(cause).Set(0);
        return base.StartAsync(cancellationToken);
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionFailed -= OnRedisFailed;
        return base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(CheckPeriod, clock);
        do
        {
            try
            {
                await CheckAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogError(ex, "Safe-mode check failed");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public async Task CheckAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var redisAnswers = await RedisAnswersAsync();
        if (!redisAnswers) rates.Abandon(RedisUnreachable);
        Set(RedisUnreachable, !redisAnswers);
        Set(RedisStateUnverified, !tradingState.RedisVerified);
        Set(TradingStateUnknown, !tradingState.Loaded);
        if (now - _lastPostgresCheck >= TimeSpan.FromSeconds(1) || _active.ContainsKey(PostgresUnreachable))
        {
            _lastPostgresCheck = now;
            Set(PostgresUnreachable, !await PostgresAnswersAsync(ct));
        }
        // A fresh process gets its first grace period to hear from the broker and the feed.
        var lastSync = risk.LastSync == default ? _startedAt : risk.LastSync;
        Set(BrokerSilent, now - lastSync > options.Value.BrokerSilenceThreshold, $"last portfolio sync {(now - lastSync).TotalSeconds:0.0} s ago");
        Set(BrokerSuspended, brokerKillPath.Mismatch is not null, brokerKillPath.Mismatch);
        // Not listening to the other instances' ticks: this instance cannot know the shared feed, and its prices may be stale.
        Set(MarketDataRelayDown, !marketDataRelay.Listening);
        // Silent = no tick accepted from any feed, on any instance: a feed sending only refused ticks tells us nothing either.
        var lastTick = marketData.LastAcceptedAt ?? _startedAt;
        Set(MarketDataSilent, now - lastTick > options.Value.MarketDataSilenceThreshold, $"last accepted tick {(now - lastTick).TotalSeconds:0.0} s ago");
    }

    private async Task<bool> RedisAnswersAsync()
    {
        if (!redis.IsConnected) return false;
        try
        {
            await redis.GetDatabase().PingAsync();
            return true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return false;
        }
    }

    private async Task<bool> PostgresAnswersAsync(CancellationToken ct)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            await using var command = db.CreateCommand("select 1");
            await command.ExecuteScalarAsync(timeout.Token);
            return true;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <remarks>The rate counter's waiting operations are refused before the cause shows: nothing waits on a Redis known gone.</remarks>
    private void OnRedisFailed(object? sender, ConnectionFailedEventArgs e)
    {
        rates.Abandon(RedisUnreachable);
        Set(RedisUnreachable, true);
    }

    /// <param name="detail">What was measured, for the log and the audit record: why the cause holds or cleared.</param>
    private void Set(string cause, bool holds, string? detail = null)
    {
        if (holds ? !_active.TryAdd(cause, clock.GetUtcNow()) : !_active.TryRemove(cause, out _)) return;
        SafeModeGauge.WithLabels(cause).Set(holds ? 1 : 0);
        if (holds) logger.LogWarning("Safe mode: {Cause} ({Detail}); new orders are refused", cause, detail);
        else logger.LogInformation("Safe mode cause cleared: {Cause} ({Detail})", cause, detail);
        alerts.Publish(holds ? AlertSeverity.Critical : AlertSeverity.Info,
            holds ? "safe_mode.entered" : "safe_mode.cleared",
            holds ? $"Safe mode: {cause}. New orders are refused." : $"Safe mode cause cleared: {cause}.");
        live.Publish(OpsEventTypes.SafeMode, new SafeModeChange(live.Origin, cause, holds, Reason));
        // Recorded once the trail takes writes again (a Postgres outage is itself a cause).
        _ = audit.AppendEventuallyAsync(AuditEventDraft.Create(clock.GetUtcNow(), "system:safe-mode", holds ? "safe_mode.entered" : "safe_mode.cleared",
            "instance:" + live.Origin, new { cause, detail, remaining = Active.Keys.ToArray() }));
    }
}

/// <summary>A safe-mode cause started or cleared on one instance; Reason is that instance's first remaining cause.</summary>
public sealed record SafeModeChange(string Instance, string Cause, bool Holds, string? Reason);
