using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Domain.Trading;
using Portal.Infrastructure.Redis;
using StackExchange.Redis;

namespace Portal.Features.Halt;

/// <summary>
/// Each instance's in-memory trading state, which the order path reads without any I/O. Kept in
/// step three ways: Redis pub/sub (milliseconds), a reconcile loop that re-reads Postgres (the
/// source of truth) and repairs Redis (so a missed message or a FLUSHALL cannot un-halt anything),
/// and local writes. Everywhere, the entry with the newest version wins; Redis keys never expire.
/// </summary>
public sealed class TradingStateStore(
    NpgsqlDataSource db, IConnectionMultiplexer redis, IOptions<RedisOptions> redisOptions, IOptions<HaltOptions> options,
    TimeProvider clock, ILogger<TradingStateStore> logger) : BackgroundService
{
    // Readable in Redis for the runbook's last resort: {"scope":"global","mode":"halted",...}.
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };
    private readonly ConcurrentDictionary<string, TradingStateEntry> _states = new(StringComparer.Ordinal);
    private readonly string _prefix = redisOptions.Value.KeyPrefix;
    private volatile bool _loaded;
    private volatile bool _redisVerified;
    private volatile bool _subscribed;
    private readonly DedicatedSubscriberThread _messages = new("trading-state-messages", logger);

    /// <summary>Raised on this instance whenever an entry changes, whatever the source.</summary>
    public event Action<TradingStateEntry>? Changed;

    /// <summary>False until the state was read from Postgres once: until then nothing may trade.</summary>
    public bool Loaded => _loaded;

    /// <summary>False after a Redis restart or flush until the state in Redis was checked and restored.</summary>
    public bool RedisVerified => _redisVerified;

    private RedisChannel Channel => RedisChannel.Literal(_prefix + "trading:state-changes");

    private string Key(string scope) => _prefix + "trading:state:" + scope;

    public TradingStateEntry Get(string scope) => _states.TryGetValue(scope, out var entry) ? entry : TradingStateEntry.Initial(scope);

    public IReadOnlyCollection<TradingStateEntry> All => _states.Values.OrderBy(e => e.Scope, StringComparer.Ordinal).ToList();

    public TradingMode ModeFor(string strategyId) =>
        TradingModeText.Strictest(Get(TradingScopes.Global).Mode, Get(TradingScopes.ForStrategy(strategyId)).Mode);

    /// <summary>A new entry for a scope, versioned after everything this instance has seen.</summary>
    public TradingStateEntry Next(string scope, TradingMode mode, string reason, string actor)
    {
        var now = clock.GetUtcNow();
        return new TradingStateEntry(scope, mode, reason, actor, now, Math.Max(now.UtcTicks, Get(scope).Version + 1));
    }

    /// <summary>Takes the entry if it is newer than what this instance holds.</summary>
    public bool Apply(TradingStateEntry entry)
    {
        while (true)
        {
            if (_states.TryGetValue(entry.Scope, out var current))
            {
                if (current.Version >= entry.Version) return false;
                if (!_states.TryUpdate(entry.Scope, entry, current)) continue;
            }
            else if (!_states.TryAdd(entry.Scope, entry)) continue;
            Changed?.Invoke(entry);
            return true;
        }
    }

    /// <summary>Writes the entry and its history row; an older version never overwrites a newer one.</summary>
    public async Task PersistAsync(TradingStateEntry entry, CancellationToken ct)
    {
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(Command("""
            insert into trading_state_changes (scope, mode, reason, changed_by, changed_at, version) values ($1, $2, $3, $4, $5, $6)
            on conflict (scope, version) do nothing
            """, entry));
        batch.BatchCommands.Add(Command("""
            insert into trading_state (scope, mode, reason, changed_by, changed_at, version) values ($1, $2, $3, $4, $5, $6)
            on conflict (scope) do update set mode = $2, reason = $3, changed_by = $4, changed_at = $5, version = $6
            where trading_state.version < excluded.version
            """, entry));
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Tells every instance and sets the key (no expiry).</summary>
    public async Task PublishAsync(TradingStateEntry entry)
    {
        var json = JsonSerializer.Serialize(entry, Json);
        // Both commands are written before either is awaited: the message, which other instances act on, does not wait
        // for the key's round trip (nobody reads the key on a message; the reconcile loop repairs it if it is older).
        var published = redis.GetSubscriber().PublishAsync(Channel, json);
        var stored = redis.GetDatabase().StringSetAsync(Key(entry.Scope), json);
        await Task.WhenAll(published, stored);
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionRestored += OnRedisRestored;
        redis.ConnectionFailed += OnRedisFailed;
        await SubscribeAsync();
        await base.StartAsync(cancellationToken);
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionRestored -= OnRedisRestored;
        redis.ConnectionFailed -= OnRedisFailed;
        return base.StopAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _messages.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ReconcileInterval, clock);
        do
        {
            await ReconcileAsync(stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>
    /// Messages are applied on a thread of their own, so a halt takes effect here as soon as it arrives, not after the
    /// requests queued on the thread pool of a busy instance. Once subscribed, the multiplexer resubscribes by itself after reconnects;
    /// until then the reconcile loop carries the state.
    /// </summary>
    private async Task SubscribeAsync()
    {
        if (_subscribed) return;
        try
        {
            _messages.Consume(await redis.GetSubscriber().SubscribeAsync(Channel), OnMessage);
            _subscribed = true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            logger.LogWarning("Not subscribed to trading state changes yet: {Error}", ex.Message);
        }
    }

    /// <summary>Postgres → memory (newer wins), memory → Postgres (writes that failed earlier), memory → Redis (restores a flush).</summary>
    public async Task ReconcileAsync(CancellationToken ct)
    {
        await SubscribeAsync();
        Dictionary<string, TradingStateEntry> stored;
        try
        {
            stored = await LoadAsync(ct);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException && !ct.IsCancellationRequested)
        {
            logger.LogWarning(ex, "Could not read the trading state from Postgres");
            return;
        }
        foreach (var entry in stored.Values) Apply(entry);
        _loaded = true;

        foreach (var local in _states.Values)
        {
            if (stored.TryGetValue(local.Scope, out var durable) && durable.Version >= local.Version) continue;
            try
            {
                await PersistAsync(local, ct);
                logger.LogWarning("Trading state of {Scope} ({Mode}) written to Postgres after an earlier failure", local.Scope, local.Mode);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !ct.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Trading state of {Scope} still not in Postgres; retrying", local.Scope);
            }
        }

        try
        {
            var database = redis.GetDatabase();
            foreach (var local in _states.Values)
            {
                var held = await database.StringGetAsync(Key(local.Scope));
                var heldVersion = held.HasValue ? JsonSerializer.Deserialize<TradingStateEntry>(held.ToString(), Json)?.Version ?? -1 : -1;
                if (heldVersion >= local.Version) continue;
                await database.StringSetAsync(Key(local.Scope), JsonSerializer.Serialize(local, Json));
                if (local.Mode != TradingMode.Active)
                    logger.LogWarning("Restored {Mode} for {Scope} in Redis (it held {Held})", local.Mode, local.Scope, held.HasValue ? "an older state" : "nothing");
            }
            _redisVerified = true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _redisVerified = false;
            logger.LogDebug(ex, "Redis unavailable during reconcile");
        }
    }

    private async Task<Dictionary<string, TradingStateEntry>> LoadAsync(CancellationToken ct)
    {
        var result = new Dictionary<string, TradingStateEntry>(StringComparer.Ordinal);
        await using var command = db.CreateCommand("select scope, mode, reason, changed_by, changed_at, version from trading_state");
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var entry = new TradingStateEntry(reader.GetString(0), TradingModeText.Parse(reader.GetString(1)), reader.GetString(2),
                reader.GetString(3), reader.GetFieldValue<DateTimeOffset>(4), reader.GetInt64(5));
            result[entry.Scope] = entry;
        }
        return result;
    }

    private void OnMessage(RedisValue message)
    {
        try
        {
            if (JsonSerializer.Deserialize<TradingStateEntry>(message.ToString(), Json) is { } entry) Apply(entry);
        }
        catch (JsonException ex)
        {
            logger.LogWarning(ex, "Ignored a malformed trading state message");
        }
    }

    private void OnRedisFailed(object? sender, ConnectionFailedEventArgs e) => _redisVerified = false;

    private void OnRedisRestored(object? sender, ConnectionFailedEventArgs e) => _redisVerified = false;

    private static NpgsqlBatchCommand Command(string sql, TradingStateEntry e)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in new object[] { e.Scope, TradingModeText.Format(e.Mode), e.Reason, e.ChangedBy, e.ChangedAt, e.Version })
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        return command;
    }
}
