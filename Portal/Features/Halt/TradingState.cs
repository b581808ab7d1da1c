using Portal.Domain.Trading;

namespace Portal.Features.Halt;

/// <summary>The trading mode of one scope ("global" or "strategy:&lt;id&gt;"). The newest version wins everywhere.</summary>
public sealed record TradingStateEntry(string Scope, TradingMode Mode, string Reason, string ChangedBy, DateTimeOffset ChangedAt, long Version)
{
    public static TradingStateEntry Initial(string scope) => new(scope, TradingMode.Active, "initial state", "system", DateTimeOffset.UnixEpoch, 0);
}

public static class TradingScopes
{
    public const string Global = "global";
    private const string StrategyPrefix = "strategy:";

    public static string ForStrategy(string strategyId) => StrategyPrefix + strategyId;

    public static string? StrategyOf(string scope) => scope.StartsWith(StrategyPrefix, StringComparison.Ordinal) ? scope[StrategyPrefix.Length..] : null;
}

public static class TradingModeText
{
    public static string Format(TradingMode mode) => mode switch
    {
        TradingMode.Active => "active",
        TradingMode.ReduceOnly => "reduce_only",
        _ => "halted",
    };

    public static TradingMode Parse(string text) => text switch
    {
        "active" => TradingMode.Active,
        "reduce_only" => TradingMode.ReduceOnly,
        "halted" => TradingMode.Halted,
        _ => throw new FormatException($"Unknown trading mode '{text}'."),
    };

    /// <summary>The stricter of two modes: Halted over ReduceOnly over Active.</summary>
    public static TradingMode Strictest(TradingMode a, TradingMode b) => (TradingMode)Math.Max((int)a, (int)b);
}
