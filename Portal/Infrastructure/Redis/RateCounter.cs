using Microsoft.Extensions.Options;
using Portal.Domain.Risk;
using StackExchange.Redis;

namespace Portal.Infrastructure.Redis;

/// <summary>
/// Orders per minute (a rolling 60 s window) and per UTC day, per strategy and global, shared by
/// every Portal instance through Redis. A reservation counts the order atomically and returns the
/// counts before it, so the pure <see cref="PreTradeCheck.CheckRates"/> decides; a refused order
/// releases its reservation. Counts can only over-estimate for an instant, never under-estimate.
/// The readiness drill strategy (<see cref="DrillStrategyId"/>) counts in global counters of its own, so a drill
/// burst can neither use up the real strategies' global allowance nor find it already used by them.
/// </summary>
public sealed class RateCounter(IConnectionMultiplexer redis, IOptions<RedisOptions> options, RedisFaultSwitch faults)
{
    /// <summary>The strategy id readiness drills trade under (see Features/Readiness/DrillStrategy).</summary>
    public const string DrillStrategyId = "drill";

    private const string ReserveScript = """
        local windowStart = tonumber(ARGV[1]) - 60000
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', windowStart)
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', windowStart)
        local counts = { redis.call('ZCARD', KEYS[1]), redis.call('GET', KEYS[3]) or 0, redis.call('ZCARD', KEYS[2]), redis.call('GET', KEYS[4]) or 0 }
        redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
        redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
        redis.call('PEXPIRE', KEYS[1], 61000)
        redis.call('PEXPIRE', KEYS[2], 61000)
        redis.call('INCR', KEYS[3])
        redis.call('INCR', KEYS[4])
        redis.call('EXPIRE', KEYS[3], 172800)
        redis.call('EXPIRE', KEYS[4], 172800)
        return counts
        """;

    private const string ReleaseScript = """
        if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then redis.call('DECR', KEYS[3]) end
        if redis.call('ZREM', KEYS[2], ARGV[1]) == 1 then redis.call('DECR', KEYS[4]) end
        return 1
        """;

    public async Task<OrderCounters> ReserveAsync(string strategyId, string reservationId, DateTimeOffset now)
    {
        faults.ThrowIfUnreachable();
        var result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(
            ReserveScript, Keys(strategyId, now), [now.ToUnixTimeMilliseconds(), reservationId]))!;
        return new OrderCounters(
            StrategyLastMinute: (long)result[0], StrategyToday: (long)result[1],
            GlobalLastMinute: (long)result[2], GlobalToday: (long)result[3]);
    }

    public Task ReleaseAsync(string strategyId, string reservationId, DateTimeOffset reservedAt)
    {
        faults.ThrowIfUnreachable();
        return redis.GetDatabase().ScriptEvaluateAsync(ReleaseScript, Keys(strategyId, reservedAt), [reservationId]);
    }

    /// <summary>The counts an order of <paramref name="strategyId"/> would see now, without counting one.</summary>
    public async Task<OrderCounters> PeekAsync(string strategyId, DateTimeOffset now)
    {
        faults.ThrowIfUnreachable();
        var keys = Keys(strategyId, now);
        var windowStart = now.ToUnixTimeMilliseconds() - 60_000;
        var db = redis.GetDatabase();
        var strategyMinute = db.SortedSetLengthAsync(keys[0], windowStart, double.PositiveInfinity, Exclude.Start);
        var globalMinute = db.SortedSetLengthAsync(keys[1], windowStart, double.PositiveInfinity, Exclude.Start);
        var strategyDay = db.StringGetAsync(keys[2]);
        var globalDay = db.StringGetAsync(keys[3]);
        return new OrderCounters(await strategyMinute, (long?)await strategyDay ?? 0, await globalMinute, (long?)await globalDay ?? 0);
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
