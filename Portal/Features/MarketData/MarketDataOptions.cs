using Microsoft.Extensions.Options;
using Portal.Domain.MarketData;
using Portal.Features.Market;

namespace Portal.Features.MarketData;

/// <summary>Market-data validation and ingest settings (section <c>MarketData</c>).</summary>
public sealed class MarketDataOptions
{
    public const string Section = "MarketData";

    /// <summary>Most ticks one API request may carry.</summary>
    public int MaxBatchSize { get; set; } = 10_000;

    /// <summary>Largest accepted request body; a full batch of ticks is about 120 bytes each.</summary>
    public int MaxBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Rules for every symbol without its own entry in <see cref="Symbols"/> (seed defaults).</summary>
    public TickRules Rules { get; set; } = new();

    /// <summary>Per-symbol rules; each starts from the seed defaults, not from <see cref="Rules"/>.</summary>
    public Dictionary<string, TickRules> Symbols { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The quarantine table is pruned to the newest this many refused ticks.</summary>
    public int QuarantineMaxRows { get; set; } = 100_000;

    /// <summary>Refused ticks waiting to be written; beyond this they are counted and dropped, never block ingest.</summary>
    public int QuarantineQueueCapacity { get; set; } = 50_000;

    /// <summary>How often statuses are re-judged without ticks (a symbol going stale, anomalies ageing out).</summary>
    public TimeSpan StatusCheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Validated ticks waiting to be shared with the other instances; beyond this they are counted and dropped.</summary>
    public int RelayQueueCapacity { get; set; } = 100_000;

    /// <summary>Wait before listening again after the shared market-data connection was lost (safe mode meanwhile).</summary>
    public TimeSpan RelayReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A quiet listening connection is checked this often, so a connection that died silently is noticed.</summary>
    public TimeSpan RelayKeepAliveInterval { get; set; } = TimeSpan.FromSeconds(5);
}

public sealed class MarketDataOptionsValidator(IOptions<MarketOptions> market) : IValidateOptions<MarketDataOptions>
{
    public ValidateOptionsResult Validate(string? name, MarketDataOptions options)
    {
        var errors = new List<string>();
        const string s = MarketDataOptions.Section;
        if (options.MaxBatchSize is < 1 or > 100_000) errors.Add($"{s}:MaxBatchSize must be between 1 and 100000.");
        if (options.MaxBodyBytes is < 1024 or > 64 * 1024 * 1024) errors.Add($"{s}:MaxBodyBytes must be between 1024 and 67108864.");
        if (options.QuarantineMaxRows is < 100 or > 100_000_000) errors.Add($"{s}:QuarantineMaxRows must be between 100 and 100000000.");
        if (options.QuarantineQueueCapacity is < 100 or > 10_000_000) errors.Add($"{s}:QuarantineQueueCapacity must be between 100 and 10000000.");
        if (options.StatusCheckInterval < TimeSpan.FromMilliseconds(50) || options.StatusCheckInterval > TimeSpan.FromMinutes(1))
            errors.Add($"{s}:StatusCheckInterval must be between 00:00:00.05 and 00:01:00.");
        if (options.RelayQueueCapacity is < 1_000 or > 10_000_000) errors.Add($"{s}:RelayQueueCapacity must be between 1000 and 10000000.");
        if (options.RelayReconnectDelay < TimeSpan.FromMilliseconds(100) || options.RelayReconnectDelay > TimeSpan.FromMinutes(1))
            errors.Add($"{s}:RelayReconnectDelay must be between 00:00:00.1 and 00:01:00.");
        if (options.RelayKeepAliveInterval < TimeSpan.FromSeconds(1) || options.RelayKeepAliveInterval > TimeSpan.FromMinutes(1))
            errors.Add($"{s}:RelayKeepAliveInterval must be between 00:00:01 and 00:01:00.");
        Check(options.Rules, $"{s}:Rules", errors);
        var known = market.Value.Symbols.Select(x => x.Symbol).ToHashSet(StringComparer.Ordinal);
        foreach (var (symbol, rules) in options.Symbols)
        {
            if (!known.Contains(symbol)) errors.Add($"{s}:Symbols:{symbol} is not a symbol listed under {MarketOptions.Section}:Symbols.");
            Check(rules, $"{s}:Symbols:{symbol}", errors);
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void Check(TickRules rules, string key, List<string> errors)
    {
        try
        {
            _ = new TickValidator(rules);
        }
        catch (ArgumentException ex)
        {
            errors.Add($"{key}: {ex.Message}");
        }
    }
}
