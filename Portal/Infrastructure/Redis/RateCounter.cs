using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Portal.Domain.Risk;
using Portal.Features.Limits;
using StackExchange.Redis;

namespace Portal.Infrastructure.Redis;

/// <summary>
/// Orders per minute (a rolling 60 s window) and per trading day (<see cref="TradingCalendar"/>, as daily losses), per
/// strategy, per API key and global, shared by every Portal instance through Redis. A reservation counts the order atomically and returns the
/// counts before it, so the pure <see cref="PreTradeCheck.CheckRates"/> decides; a refused order
/// releases its reservation. Counts can only over-estimate for an instant, never under-estimate, except across a loss of
/// Redis' data: then nothing is counted until <see cref="RestoreAsync"/> rebuilt them from Postgres (see RateCounterRestorer).
/// The readiness drill strategy (<see cref="DrillStrategyId"/>) counts in global counters of its own, so a drill
/// burst can neither use up the real strategies' global allowance nor find it already used by them.
/// </summary>
public sealed class RateCounter(IConnectionMultiplexer redis, IOptions<RedisOptions> options, TradingCalendar calendar)
{
    /// <summary>The strategy id readiness drills trade under (see Features/Readiness/DrillStrategy).</summary>
    public const string DrillStrategyId = "drill";

    // Redis keeps no durable copy of the counters: after a restart or FLUSHALL the marker is gone and nothing is
    // counted against empty counters until they were rebuilt from the order decisions in Postgres (a release then has
    // nothing left to release).
    // KEYS[1] is the restored marker, then every key the batch's operations touch. ARGV holds each operation in turn:
    // 'r' (reserve) or 'x' (release), its time (ms), its id, its number of levels (strategy and global, and the API key's
    // when sent with one), then per level the KEYS index of the level's minute window and day counter. One script, so the
    // whole batch is applied atomically, each operation after the ones before it as if they came one by one.
    private const string CountScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return false end
        local counts, minutes, days = {}, {}, {}
        local i = 1
        while i <= #ARGV do
            local reserve, at, id, levels = ARGV[i] == 'r', tonumber(ARGV[i + 1]), ARGV[i + 2], tonumber(ARGV[i + 3])
            i = i + 4
            for _ = 1, levels do
                local minute, day = KEYS[tonumber(ARGV[i])], KEYS[tonumber(ARGV[i + 1])]
                i = i + 2
                if reserve then
                    redis.call('ZREMRANGEBYSCORE', minute, '-inf', at - 60000)
                    counts[#counts + 1] = redis.call('ZCARD', minute)
                    counts[#counts + 1] = redis.call('GET', day) or 0
                    redis.call('ZADD', minute, at, id)
                    redis.call('INCR', day)
                    minutes[minute], days[day] = true, true
                elseif redis.call('ZREM', minute, id) == 1 then
                    redis.call('DECR', day)
                end
            end
        end
        for minute in pairs(minutes) do redis.call('PEXPIRE', minute, 61000) end
        for day in pairs(days) do redis.call('EXPIRE', day, 172800) end
        return counts
        """;

    private const int MaxOperationsPerScript = 256;

    /// <param name="Levels">Each level's minute window and day counter, in turn: strategy, global, then the key's.</param>
    private sealed record RateOperation(bool Reserve, RedisKey[] Levels, string Id, long AtMs)
    {
        public TaskCompletionSource<OrderCounters> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly ConcurrentQueue<RateOperation> _waiting = new();
    private int _sending;
    private RateOperation[]? _onItsWay;

    /// <summary>
    /// Counts the order at every level and returns the counts before it. Operations asked for while one script is on its
    /// way go together in the next: one round trip and one script for many orders (Portal and Redis both pay per call),
    /// and a lone order waits for nothing but its own round trip.
    /// </summary>
    /// <param name="apiKey">The sending API key ("apikey:&lt;id&gt;"), counted on its own too; null for Portal's own senders.</param>
    /// <exception cref="RateCountersLostException">Redis lost the counters; restore them, then reserve again.</exception>
    public Task<OrderCounters> ReserveAsync(string strategyId, string? apiKey, string reservationId, DateTimeOffset now) =>
        Enqueue(new RateOperation(true, Levels(strategyId, apiKey, now), reservationId, now.ToUnixTimeMilliseconds()));

    /// <summary>Takes back a reservation (the order was refused); batched with the reservations as they are.</summary>
    public Task ReleaseAsync(string strategyId, string? apiKey, string reservationId, DateTimeOffset reservedAt) =>
        Enqueue(new RateOperation(false, Levels(strategyId, apiKey, reservedAt), reservationId, reservedAt.ToUnixTimeMilliseconds()));

    private RedisKey[] Levels(string strategyId, string? apiKey, DateTimeOffset at)
    {
        var keys = Keys(strategyId, at);
        return apiKey is null ? [keys[0], keys[2], keys[1], keys[3]] : [keys[0], keys[2], keys[1], keys[3], .. KeyKeys(apiKey, at)];
    }

    private Task<OrderCounters> Enqueue(RateOperation operation)
    {
        _waiting.Enqueue(operation);
        if (Interlocked.CompareExchange(ref _sending, 1, 0) == 0) _ = SendWaitingAsync();
        return operation.Done.Task;
    }

    /// <summary>
    /// Refuses every operation waiting or on its way, for when Redis is known to be unreachable (safe mode): a Redis that
    /// drops packets without closing the connection would otherwise hold each batch for <see cref="RedisOptions.OperationTimeout"/>
    /// in turn. A script that reached Redis after all may have counted its orders: an over-count, never an under-count.
    /// </summary>
    public void Abandon(string why)
    {
        var refusal = new RedisConnectionException(ConnectionFailureType.UnableToConnect, CommandFlags.None, "Rate counters abandoned: " + why);
        while (_waiting.TryDequeue(out var operation)) operation.Done.TrySetException(refusal);
        foreach (var operation in Volatile.Read(ref _onItsWay) ?? []) operation.Done.TrySetException(refusal);
    }

    /// <summary>Sends what waits, one script at a time, until nothing does; only one sender runs.</summary>
    private async Task SendWaitingAsync()
    {
        var batch = new List<RateOperation>(MaxOperationsPerScript);
        while (true)
        {
            while (batch.Count < MaxOperationsPerScript && _waiting.TryDequeue(out var next)) batch.Add(next);
            if (batch.Count == 0)
            {
                Volatile.Write(ref _sending, 0);
                // An operation queued after the queue looked empty and before the flag dropped would wait for nobody.
                if (_waiting.IsEmpty || Interlocked.CompareExchange(ref _sending, 1, 0) != 0) return;
                continue;
            }
            Volatile.Write(ref _onItsWay, [.. batch]);
            await ApplyAsync(batch);
            Volatile.Write(ref _onItsWay, null);
            batch.Clear();
        }
    }

    private async Task ApplyAsync(List<RateOperation> batch)
    {
        try
        {
            var keys = new List<RedisKey> { RestoredMarker };
            var indexOf = new Dictionary<RedisKey, int>();
            var args = new List<RedisValue>(batch.Count * 10);
            foreach (var operation in batch)
            {
                args.Add(operation.Reserve ? "r" : "x");
                args.Add(operation.AtMs);
                args.Add(operation.Id);
                args.Add(operation.Levels.Length / 2);
                foreach (var key in operation.Levels) args.Add(IndexOf(key));
            }
            var reply = await redis.GetDatabase().ScriptEvaluateAsync(CountScript, [.. keys], [.. args]);
            var counts = reply.IsNull ? null : (RedisResult[])reply!;
            var at = 0;
            foreach (var operation in batch)
            {
                if (!operation.Reserve) operation.Done.TrySetResult(default);
                else if (counts is null) operation.Done.TrySetException(new RateCountersLostException());
                else
                {
                    long Next() => (long)counts[at++];
                    var counters = new OrderCounters(StrategyLastMinute: Next(), StrategyToday: Next(), GlobalLastMinute: Next(), GlobalToday: Next());
                    if (operation.Levels.Length > 4) counters = counters with { KeyLastMinute = Next(), KeyToday = Next() };
                    operation.Done.TrySetResult(counters);
                }
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
            foreach (var operation in batch) operation.Done.TrySetException(ex);
        }
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
        var day = calendar.DayKey(now);
        return [$"{prefix}rate:minute:key:{apiKey}", $"{prefix}rate:day:{day}:key:{apiKey}"];
    }

    private RedisKey[] Keys(string strategyId, DateTimeOffset now)
    {
        var prefix = options.Value.KeyPrefix;
        var day = calendar.DayKey(now);
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
