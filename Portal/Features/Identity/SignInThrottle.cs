using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Portal.Infrastructure.Redis;
using StackExchange.Redis;

namespace Portal.Features.Identity;

public sealed class SignInThrottleOptions
{
    public const string Section = "SignIn";

    /// <summary>Failures of one account (known or not) before each further attempt must wait.</summary>
    public int AccountFreeFailures { get; set; } = 5;

    /// <summary>Failures from one address (any accounts) before each further attempt from it must wait; higher, for shared offices.</summary>
    public int AddressFreeFailures { get; set; } = 50;

    /// <summary>The wait after the last free failure; it doubles with each further failure up to <see cref="MaxDelay"/>.</summary>
    public TimeSpan FirstDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait. Short on purpose: a long lockout is a weapon that keeps officers out during an incident.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Failures are forgotten after this long without another one.</summary>
    public TimeSpan FailureMemory { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// How long "remember this device" keeps a person signed in on it (sliding: each visit in the second half renews it),
    /// so the on-call at 3 a.m. is not retyping a long password. Roles and locks still apply to the next request, and to
    /// an open page within <see cref="IdentitySetup.RevalidationInterval"/>.
    /// </summary>
    public TimeSpan RememberDeviceFor { get; set; } = TimeSpan.FromDays(14);
}

public sealed class SignInThrottleOptionsValidator : IValidateOptions<SignInThrottleOptions>
{
    public ValidateOptionsResult Validate(string? name, SignInThrottleOptions o)
    {
        var errors = new List<string>();
        if (o.AccountFreeFailures is < 1 or > 100) errors.Add($"{SignInThrottleOptions.Section}:AccountFreeFailures must be between 1 and 100.");
        if (o.AddressFreeFailures is < 1 or > 10_000) errors.Add($"{SignInThrottleOptions.Section}:AddressFreeFailures must be between 1 and 10000.");
        if (o.MaxDelay < TimeSpan.FromSeconds(1) || o.MaxDelay > TimeSpan.FromSeconds(30))
            errors.Add($"{SignInThrottleOptions.Section}:MaxDelay must be between 00:00:01 and 00:00:30 (a longer wait locks officers out).");
        if (o.FirstDelay < TimeSpan.FromMilliseconds(100) || o.FirstDelay > o.MaxDelay)
            errors.Add($"{SignInThrottleOptions.Section}:FirstDelay must be between 00:00:00.1 and MaxDelay.");
        if (o.FailureMemory < TimeSpan.FromMinutes(1) || o.FailureMemory > TimeSpan.FromDays(1))
            errors.Add($"{SignInThrottleOptions.Section}:FailureMemory must be between 00:01:00 and 1.00:00:00.");
        if (o.RememberDeviceFor < TimeSpan.FromHours(1) || o.RememberDeviceFor > TimeSpan.FromDays(90))
            errors.Add($"{SignInThrottleOptions.Section}:RememberDeviceFor must be between 01:00:00 and 90.00:00:00.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>
/// Password guessing is slowed, never locked out: after <see cref="SignInThrottleOptions.AccountFreeFailures"/> failures
/// for an account (whether it exists or not, so the answer tells nothing), or
/// <see cref="SignInThrottleOptions.AddressFreeFailures"/> from an address, each further attempt must wait
/// FirstDelay·2^k, at most MaxDelay (30 s). A throttled attempt is answered without checking the password and does not
/// count. The counts live in Redis so every instance sees them, and in each instance for its own attempts, which hold
/// whatever Redis says (emptied by someone on its network, or unreachable): closed for guessing, open for officers
/// (nobody is kept out longer than MaxDelay).
/// Times come from the injected clock, never from Redis' own.
/// </summary>
public sealed partial class SignInThrottle(
    IConnectionMultiplexer redis, IOptions<RedisOptions> redisOptions, IOptions<SignInThrottleOptions> options, TimeProvider clock,
    ILogger<SignInThrottle> logger)
{
    public const string WaitMessage = "Too many failed sign-in attempts: wait a few seconds and try again.";

    private const string FailureScript = """
        local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
        local excess = failures - tonumber(ARGV[2])
        if excess >= 0 then
          local delay = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ math.min(excess, 30))
          redis.call('HSET', KEYS[1], 'until', string.format('%.0f', tonumber(ARGV[1]) + delay))
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[5])
        return failures
        """;

    private readonly ConcurrentDictionary<string, LocalCount> _local = new();

    private sealed class LocalCount
    {
        public int Failures;
        public long Until;
        public long LastFailure;
    }

    /// <summary>True if an attempt for <paramref name="email"/> from <paramref name="address"/> must wait.</summary>
    public Task<bool> IsThrottledAsync(string email, string? address) => AnyThrottledAsync(Keys(email, address));

    /// <summary>
    /// True if an attempt from <paramref name="address"/> must wait, whatever the account: for a passkey sign-in, which names
    /// no account until its signature has been checked.
    /// </summary>
    public Task<bool> IsAddressThrottledAsync(string? address) => AnyThrottledAsync([AddressKey(address)]);

    private async Task<bool> AnyThrottledAsync(string[] keys)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        // This instance's own counts first: Redis is shared but anyone on its network may empty or edit it, so it may add a
        // wait (another instance's failures), never lift one this instance counted.
        if (keys.Any(k => _local.TryGetValue(k, out var count) && Volatile.Read(ref count.Until) > now)) return true;
        try
        {
            var db = redis.GetDatabase();
            var untils = await Task.WhenAll(keys.Select(k => db.HashGetAsync((RedisKey)k, "until")));
            return untils.Any(u => u.HasValue && (long)u > now);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogRedisUnavailable(logger, ex.Message);
            return false;
        }
    }

    public Task RecordFailureAsync(string email, string? address) =>
        RecordFailuresAsync(Keys(email, address), [options.Value.AccountFreeFailures, options.Value.AddressFreeFailures]);

    /// <summary>A failed passkey sign-in: counted against the address only (no account is known).</summary>
    public Task RecordAddressFailureAsync(string? address) => RecordFailuresAsync([AddressKey(address)], [options.Value.AddressFreeFailures]);

    private async Task RecordFailuresAsync(string[] keys, int[] free)
    {
        var o = options.Value;
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        // Counted here as well: if Redis goes away, this instance already knows recent failures.
        for (var i = 0; i < keys.Length; i++) CountLocally(keys[i], free[i], now);
        try
        {
            var db = redis.GetDatabase();
            await Task.WhenAll(keys.Select((k, i) => db.ScriptEvaluateAsync(FailureScript, [(RedisKey)k],
                [now, free[i], (long)o.FirstDelay.TotalMilliseconds, (long)o.MaxDelay.TotalMilliseconds, (long)o.FailureMemory.TotalMilliseconds])));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogRedisUnavailable(logger, ex.Message);
        }
    }

    /// <summary>A successful sign-in clears the account's count (not the address's: one good account must not launder a spray).</summary>
    public async Task RecordSuccessAsync(string email)
    {
        var key = Keys(email, null)[0];
        _local.TryRemove(key, out _);
        try
        {
            await redis.GetDatabase().KeyDeleteAsync((RedisKey)key);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogRedisUnavailable(logger, ex.Message);
        }
    }

    private void CountLocally(string key, int free, long now)
    {
        var o = options.Value;
        foreach (var (k, stale) in _local)
            if (now - Volatile.Read(ref stale.LastFailure) > o.FailureMemory.TotalMilliseconds) _local.TryRemove(k, out _);
        var count = _local.GetOrAdd(key, _ => new LocalCount());
        lock (count)
        {
            count.Failures++;
            count.LastFailure = now;
            var excess = count.Failures - free;
            if (excess >= 0)
                count.Until = now + (long)Math.Min(o.MaxDelay.TotalMilliseconds, o.FirstDelay.TotalMilliseconds * Math.Pow(2, Math.Min(excess, 30)));
        }
    }

    /// <summary>The account is keyed by a hash of the normalised email, so Redis holds no addresses of people.</summary>
    private string[] Keys(string email, string? address)
    {
        var prefix = redisOptions.Value.KeyPrefix + "signin:";
        var account = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(email.Trim().ToUpperInvariant())));
        return [prefix + "account:" + account, AddressKey(address)];
    }

    private string AddressKey(string? address) => redisOptions.Value.KeyPrefix + "signin:address:" + (address ?? "unknown");

    [LoggerMessage(EventId = 4110, Level = LogLevel.Warning, Message = "Sign-in throttle uses this instance's own counts: Redis unavailable ({Error})")]
    private static partial void LogRedisUnavailable(ILogger logger, string error);
}
