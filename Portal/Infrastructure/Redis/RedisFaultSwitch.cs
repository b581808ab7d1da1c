using StackExchange.Redis;

namespace Portal.Infrastructure.Redis;

/// <summary>
/// Fault injection for the readiness drills: while <see cref="Unreachable"/> is set, this process's own Redis
/// adapters (rate counters, the safe-mode probe) behave as if the server could not be reached. A drill in
/// production must prove the order path fails closed without stopping the real Redis that other instances use;
/// the test suite kills a real server for that (FaultTests).
/// </summary>
public sealed class RedisFaultSwitch
{
    private volatile bool _unreachable;

    public bool Unreachable
    {
        get => _unreachable;
        set => _unreachable = value;
    }

    public void ThrowIfUnreachable()
    {
        if (_unreachable) throw new RedisException("Redis is unreachable (fault injected by a readiness drill).");
    }
}
