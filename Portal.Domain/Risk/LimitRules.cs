namespace Portal.Domain.Risk;

/// <summary>
/// The absolute bounds of every limit, whatever the configuration says. A ceiling outside them
/// refuses start-up; an operational limit must also stay within its ceiling.
/// </summary>
public static class LimitRules
{
    /// <summary>The seed memo: "a max position size above 100,000 must fail start-up".</summary>
    public const decimal AbsoluteMaxPositionSizeUsd = 100_000m;

    private static readonly Dictionary<string, (decimal Min, decimal Max, bool Whole)> Bounds = new()
    {
        [nameof(RiskLimits.MaxOrderValueUsd)] = (0.01m, 10_000_000m, false),
        [nameof(RiskLimits.MaxOrderQuantity)] = (0.000000001m, 100_000_000m, false),
        [nameof(RiskLimits.MaxPositionSizeUsd)] = (0.01m, AbsoluteMaxPositionSizeUsd, false),
        [nameof(RiskLimits.MaxPositionPctPortfolio)] = (0.0001m, 1m, false),
        [nameof(RiskLimits.MaxTotalExposureUsd)] = (0.01m, 100_000_000m, false),
        [nameof(RiskLimits.MaxLeverage)] = (0.01m, 4m, false),
        [nameof(RiskLimits.MaxOpenPositions)] = (1m, 10_000m, true),
        [nameof(RiskLimits.MaxOrdersPerMinute)] = (1m, 100_000_000m, true),
        [nameof(RiskLimits.MaxOrdersPerDay)] = (1m, 1_000_000_000m, true),
        [nameof(RiskLimits.MaxOrdersPerMinuteGlobal)] = (1m, 100_000_000m, true),
        [nameof(RiskLimits.MaxOrdersPerDayGlobal)] = (1m, 1_000_000_000m, true),
        [nameof(RiskLimits.MaxDailyLossUsd)] = (0m, 100_000_000m, false),
        [nameof(RiskLimits.MaxWeeklyLossUsd)] = (0m, 100_000_000m, false),
        [nameof(RiskLimits.MaxDrawdownPct)] = (0m, 1m, false),
        [nameof(RiskLimits.PriceCollarPct)] = (0.0001m, 1m, false),
    };

    public static IReadOnlyCollection<string> Names => Bounds.Keys;

    /// <summary>Why a value is not acceptable for a limit, or null when it is.</summary>
    public static string? CheckBounds(string name, decimal value)
    {
        if (!Bounds.TryGetValue(name, out var b)) return $"'{name}' is not a known limit.";
        if (b.Whole && value != decimal.Truncate(value)) return $"must be a whole number (was {value}).";
        if (value < b.Min || value > b.Max) return $"must be between {b.Min} and {b.Max} (was {value}).";
        return null;
    }

    /// <summary>Every problem of a proposed operational set against the ceilings, by limit name.</summary>
    public static Dictionary<string, string> Validate(RiskLimits proposed, RiskLimits ceilings)
    {
        var errors = new Dictionary<string, string>();
        var ceilingValues = ceilings.Entries().ToDictionary(e => e.Name, e => e.Value);
        foreach (var (name, value) in proposed.Entries())
        {
            var problem = CheckBounds(name, value);
            if (problem is null && value > ceilingValues[name])
                problem = $"must not exceed its ceiling {ceilingValues[name]} (was {value}).";
            if (problem is not null) errors[name] = problem;
        }
        return errors;
    }
}
