using System.Collections.Concurrent;
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
    // KEYS[1] is the restored marker, then every key the batch's reservations count in. ARGV holds each reservation in
    // turn: its time (ms), its id, its number of levels (strategy and global, and the API key's when sent with one), then
    // per level the KEYS index of the level's minute window and day counter. One script, so every level of every
    // reservation is counted atomically, each reservation seeing the ones before it as if they came one by one.
    private const string ReserveScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return false end
        local counts, minutes, days = {}, {}, {}
        local i = 1
        while i <= #ARGV do
            local at, id, levels = tonumber(ARGV[i]), ARGV[i + 1], tonumber(ARGV[i + 2])
            i = i + 3
            for _ = 1, levels do
                local minute, day = KEYS[tonumber(ARGV[i])], KEYS[tonumber(ARGV[i + 1])]
                i = i + 2
                redis.call('ZREMRANGEBYSCORE', minute, '-inf', at - 60000)
                counts[#counts + 1] = redis.call('ZCARD', minute)
                counts[#counts + 1] = redis.call('GET', day) or 0
                redis.call('ZADD', minute, at, id)
                redis.call('INCR', day)
                minutes[minute], days[day] = true, true
            end
        end
        for minute in pairs(minutes) do redis.call('PEXPIRE', minute, 61000) end
        for day in pairs(days) do redis.call('EXPIRE', day, 172800) end
        return counts
        """;

    private const string ReleaseScript = """
        for _, pair in ipairs({ {1, 3}, {2, 4}, {5, 6} }) do
            if KEYS[pair[1]] and redis.call('ZREM', KEYS[pair[1]], ARGV[1]) == 1 then redis.call('DECR', KEYS[pair[2]]) end
        end
        return 1
        """;

    private const int MaxReservationsPerScript = 256;

    /// <param name="Levels">Each level's minute window and day counter, in turn: strategy, global, then the key's.</param>
    private sealed record Reservation(RedisKey[] Levels, string Id, long AtMs)
    {
        public TaskCompletionSource<OrderCounters> Counted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly ConcurrentQueue<Reservation> _waiting = new();
    private int _sending;

    /// <summary>
    /// Counts the order at every level and returns the counts before it. Reservations made while one script is on its way
    /// go together in the next: one round trip and one script for many orders (Portal and Redis both pay per call), and a
    /// lone order waits for nothing but its own round trip.
    /// </summary>
    /// <param name="apiKey">The sending API key ("apikey:&lt;id&gt;"), counted on its own too; null for Portal's own senders.</param>
    /// <exception cref="RateCountersLostException">Redis lost the counters; restore them, then reserve again.</exception>
    public Task<OrderCounters> ReserveAsync(string strategyId, string? apiKey, string reservationId, DateTimeOffset now)
    {
        var keys = Keys(strategyId, now);
        RedisKey[] levels = apiKey is null ? [keys[0], keys[2], keys[1], keys[3]] : [keys[0], keys[2], keys[1], keys[3], .. KeyKeys(apiKey, now)];
        var reservation = new Reservation(levels, reservationId, now.ToUnixTimeMilliseconds());
        _waiting.Enqueue(reservation);
        if (Interlocked.CompareExchange(ref _sending, 1, 0) == 0) _ = SendWaitingAsync();
        return reservation.Counted.Task;
    }

    /// <summary>Sends what waits, one script at a time, until nothing does; only one sender runs.</summary>
    private async Task SendWaitingAsync()
    {
        var batch = new List<Reservation>(MaxReservationsPerScript);
        while (true)
        {
            while (batch.Count < MaxReservationsPerScript && _waiting.TryDequeue(out var next)) batch.Add(next);
            if (batch.Count == 0)
            {
                Volatile.Write(ref _sending, 0);
                // A reservation queued after the queue looked empty and before the flag dropped would wait for nobody.
                if (_waiting.IsEmpty || Interlocked.CompareExchange(ref _sending, 1, 0) != 0) return;
                continue;
            }
            await CountAsync(batch);
            batch.Clear();
        }
    }

    private async Task CountAsync(List<Reservation> batch)
    {
        try
        {
            var keys = new List<RedisKey> { RestoredMarker };
            var indexOf = new Dictionary<RedisKey, int>();
            var args = new List<RedisValue>(batch.Count * 9);
            foreach (var reservation in batch)
            {
                args.Add(reservation.AtMs);
                args.Add(reservation.Id);
                args.Add(reservation.Levels.Length / 2);
                foreach (var key in reservation.Levels) args.Add(IndexOf(key));
            }
            var reply = await redis.GetDatabase().ScriptEvaluateAsync(ReserveScript, [.. keys], [.. args]);
            if (reply.IsNull)
            {
                foreach (var reservation in batch) reservation.Counted.TrySetException(new RateCountersLostException());
                return;
            }
            var counts = (RedisResult[])reply!;
            var at = 0;
            foreach (var reservation in batch)
            {
                long Next() => (long)counts[at++];
                var counters = new OrderCounters(StrategyLastMinute: Next(), StrategyToday: Next(), GlobalLastMinute: Next(), GlobalToday: Next());
                if (reservation.Levels.Length > 4) counters = counters with { KeyLastMinute = Next(), KeyToday = Next() };
                reservation.Counted.TrySetResult(counters);
            }

            int IndexOf(RedisKey key)
            {
                if (indexOf.TryGetValue(key, out var index)) return index;
                keys.Add(key);
                return indexOf[key] = keys.Count;
            }
        }
        catch (Exception ex)
        {
            foreach (var reservation in batch) reservation.Counted.TrySetException(ex);
        }
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
