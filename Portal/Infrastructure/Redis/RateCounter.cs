using Microsoft.Extensions.Options;
using Portal.Domain.Risk;
using StackExchange.Redis;

namespace Portal.Infrastructure.Redis;

/// <summary>
/// Orders per minute (a rolling 60 s window) and per UTC day, per strategy, per API key and global, shared by
/// every Portal instance through Redis. A reservation counts the order atomically and returns the
/// counts before it, so the pure <see cref="PreTradeCheck.CheckRates"/> decides; a refused order
/// releases its reservation. Counts can only over-estimate for an instant, never under-estimate, except across a loss of
/// Redis' data: then nothing is counted until <see cref="RestoreAsync"/> rebuilt them from Postgres (see RateCounterRestorer).
/// The readiness drill strategy (<see cref="DrillStrategyId"/>) counts in global counters of its own, so a drill
/// burst can neither use up the real strategies' global allowance nor find it already used by them.
/// </summary>
public sealed class RateCounter(IConnectionMultiplexer redis, IOptions<RedisOptions> options)
{
    /// <summary>The strategy id readiness drills trade under (see Features/Readiness/DrillStrategy).</summary>
    public const string DrillStrategyId = "drill";

    // Redis keeps no durable copy of the counters: after a restart or FLUSHALL the marker is gone and nothing is
    // counted against empty counters until they were rebuilt from the order decisions in Postgres.
    // KEYS: strategy minute, global minute, strategy day, global day, the restored marker, then (for an order sent
    // with an API key) the key's minute and day; one script, so the three levels are counted atomically together.
    private const string ReserveScript = """
        if redis.call('EXISTS', KEYS[5]) == 0 then return false end
        local windowStart = tonumber(ARGV[1]) - 60000
        local counts = {}
        for _, pair in ipairs({ {1, 3}, {2, 4}, {6, 7} }) do
            local minute, day = KEYS[pair[1]], KEYS[pair[2]]
            if minute then
                redis.call('ZREMRANGEBYSCORE', minute, '-inf', windowStart)
                table.insert(counts, redis.call('ZCARD', minute))
                table.insert(counts, redis.call('GET', day) or 0)
                redis.call('ZADD', minute, ARGV[1], ARGV[2])
                redis.call('PEXPIRE', minute, 61000)
                redis.call('INCR', day)
                redis.call('EXPIRE', day, 172800)
            end
        end
        return counts
        """;

    private const string ReleaseScript = """
        for _, pair in ipairs({ {1, 3}, {2, 4}, {5, 6} }) do
            if KEYS[pair[1]] and redis.call('ZREM', KEYS[pair[1]], ARGV[1]) == 1 then redis.call('DECR', KEYS[pair[2]]) end
        end
        return 1
        """;

    /// <param name="apiKey">The sending API key ("apikey:&lt;id&gt;"), counted on its own too; null for Portal's own senders.</param>
    public async Task<OrderCounters> ReserveAsync(string strategyId, string? apiKey, string reservationId, DateTimeOffset now)
    {
        RedisKey[] keys = apiKey is null ? [.. Keys(strategyId, now), RestoredMarker] : [.. Keys(strategyId, now), RestoredMarker, .. KeyKeys(apiKey, now)];
        var reply = await redis.GetDatabase().ScriptEvaluateAsync(ReserveScript, keys, [now.ToUnixTimeMilliseconds(), reservationId]);
        if (reply.IsNull) throw new RateCountersLostException();
        var result = (RedisResult[])reply!;
        return new OrderCounters(
            StrategyLastMinute: (long)result[0], StrategyToday: (long)result[1],
            GlobalLastMinute: (long)result[2], GlobalToday: (long)result[3],
            KeyLastMinute: result.Length > 4 ? (long)result[4] : 0, KeyToday: result.Length > 5 ? (long)result[5] : 0);
    }

    public Task ReleaseAsync(string strategyId, string? apiKey, string reservationId, DateTimeOffset reservedAt)
    {
        RedisKey[] keys = apiKey is null ? Keys(strategyId, reservedAt) : [.. Keys(strategyId, reservedAt), .. KeyKeys(apiKey, reservedAt)];
        return redis.GetDatabase().ScriptEvaluateAsync(ReleaseScript, keys, [reservationId]);
    }

    /// <summary>The counts an order of <paramref name="strategyId"/> would see now, without counting one.</summary>
    public async Task<OrderCounters> PeekAsync(string strategyId, DateTimeOffset now)
    {
        var keys = Keys(strategyId, now);
        var windowStart = now.ToUnixTimeMilliseconds() - 60_000;
        var db = redis.GetDatabase();
        var strategyMinute = db.SortedSetLengthAsync(keys[0], windowStart, double.PositiveInfinity, Exclude.Start);
        var globalMinute = db.SortedSetLengthAsync(keys[1], windowStart, double.PositiveInfinity, Exclude.Start);
        var strategyDay = db.StringGetAsync(keys[2]);
        var globalDay = db.StringGetAsync(keys[3]);
        return new OrderCounters(await strategyMinute, (long?)await strategyDay ?? 0, await globalMinute, (long?)await globalDay ?? 0);
    }

    /// <summary>
    /// Rebuilds lost counters from <paramref name="snapshot"/> (the orders accepted today), unless another instance
    /// already did: the writes and the marker commit together, only while the marker is still missing.
    /// </summary>
    /// <returns>False when the counters were already there.</returns>
    public async Task<bool> RestoreAsync(RateCounterSnapshot snapshot)
    {
        var transaction = redis.GetDatabase().CreateTransaction();
        transaction.AddCondition(Condition.KeyNotExists(RestoredMarker));
        var dayTotals = new Dictionary<RedisKey, long>();
        foreach (var (strategyId, count) in snapshot.TodayByStrategy)
        {
            var keys = Keys(strategyId, snapshot.At);
            dayTotals[keys[2]] = dayTotals.GetValueOrDefault(keys[2]) + count;
            dayTotals[keys[3]] = dayTotals.GetValueOrDefault(keys[3]) + count;
        }
        foreach (var (apiKey, count) in snapshot.TodayByKey)
            dayTotals[KeyKeys(apiKey, snapshot.At)[1]] = count;
        foreach (var (key, count) in dayTotals)
            _ = transaction.StringSetAsync(key, count, TimeSpan.FromSeconds(172_800));
        var minuteKeys = new HashSet<RedisKey>();
        foreach (var (strategyId, apiKey, reservationId, at) in snapshot.LastMinute)
        {
            RedisKey[] keys = apiKey is null ? Keys(strategyId, snapshot.At)[..2] : [.. Keys(strategyId, snapshot.At)[..2], KeyKeys(apiKey, snapshot.At)[0]];
            foreach (var key in keys)
            {
                _ = transaction.SortedSetAddAsync(key, reservationId, at.ToUnixTimeMilliseconds());
                minuteKeys.Add(key);
            }
        }
        foreach (var key in minuteKeys) _ = transaction.KeyExpireAsync(key, TimeSpan.FromMilliseconds(61_000));
        _ = transaction.StringSetAsync(RestoredMarker, snapshot.At.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        return await transaction.ExecuteAsync();
    }

    private RedisKey RestoredMarker => options.Value.KeyPrefix + "rate:restored";

    /// <summary>An API key's minute window and day counter.</summary>
    private RedisKey[] KeyKeys(string apiKey, DateTimeOffset now)
    {
        var prefix = options.Value.KeyPrefix;
        var day = now.UtcDateTime.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture);
        return [$"{prefix}rate:minute:key:{apiKey}", $"{prefix}rate:day:{day}:key:{apiKey}"];
    }

    private RedisKey[] Keys(string strategyId, DateTimeOffset now)
    {
        var prefix = options.Value.KeyPrefix;
        var day = now.UtcDateTime.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture);
        var global = strategyId == DrillStrategyId ? "global:" + DrillStrategyId : "global";
        return
        [
            $"{prefix}rate:minute:strategy:{strategyId}",
            $"{prefix}rate:minute:{global}",
            $"{prefix}rate:day:{day}:strategy:{strategyId}",
            $"{prefix}rate:day:{day}:{global}",
        ];
    }
}

/// <summary>Orders accepted so far today per strategy and per API key, and those of the last minute, read from the durable decisions.</summary>
public sealed record RateCounterSnapshot(
    DateTimeOffset At, IReadOnlyDictionary<string, long> TodayByStrategy,
    IReadOnlyList<(string StrategyId, string? ApiKey, string ReservationId, DateTimeOffset At)> LastMinute,
    IReadOnlyDictionary<string, long> TodayByKey);

/// <summary>Redis lost the counters (restart or flush); they must be restored before anything is counted.</summary>
public sealed class RateCountersLostException() : Exception("The rate counters in Redis were lost and are not restored yet.");
