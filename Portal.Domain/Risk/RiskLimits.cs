namespace Portal.Domain.Risk;

/// <summary>
/// One complete set of limits. Used twice: as the configured ceilings and as the operational
/// limits stored in Postgres, which may never exceed the ceilings. Fractions are 0..1 (0.10 = 10 %).
/// </summary>
public sealed record RiskLimits
{
    public required decimal MaxOrderValueUsd { get; init; }
    public required decimal MaxOrderQuantity { get; init; }
    public required decimal MaxPositionSizeUsd { get; init; }
    public required decimal MaxPositionPctPortfolio { get; init; }
    public required decimal MaxTotalExposureUsd { get; init; }
    public required decimal MaxLeverage { get; init; }
    public required int MaxOpenPositions { get; init; }
    public required int MaxOrdersPerMinute { get; init; }
    public required int MaxOrdersPerDay { get; init; }
    public required int MaxOrdersPerMinuteGlobal { get; init; }
    public required int MaxOrdersPerDayGlobal { get; init; }
    public required decimal MaxDailyLossUsd { get; init; }
    public required decimal MaxWeeklyLossUsd { get; init; }
    public required decimal MaxDrawdownPct { get; init; }
    public required decimal PriceCollarPct { get; init; }

    /// <summary>The seed memo's numbers.</summary>
    public static RiskLimits SeedDefaults { get; } = new()
    {
        MaxOrderValueUsd = 5_000m,
        MaxOrderQuantity = 1_000m,
        MaxPositionSizeUsd = 10_000m,
        MaxPositionPctPortfolio = 0.10m,
        MaxTotalExposureUsd = 50_000m,
        MaxLeverage = 1.0m,
        MaxOpenPositions = 20,
        MaxOrdersPerMinute = 5,
        MaxOrdersPerDay = 100,
        MaxOrdersPerMinuteGlobal = 5,
        MaxOrdersPerDayGlobal = 100,
        MaxDailyLossUsd = 2_000m,
        MaxWeeklyLossUsd = 5_000m,
        MaxDrawdownPct = 0.15m,
        PriceCollarPct = 0.05m,
    };

    /// <summary>Each limit by its stable name, for validation, display and the versioned history.</summary>
    public IReadOnlyList<(string Name, decimal Value)> Entries() =>
    [
        (nameof(MaxOrderValueUsd), MaxOrderValueUsd),
        (nameof(MaxOrderQuantity), MaxOrderQuantity),
        (nameof(MaxPositionSizeUsd), MaxPositionSizeUsd),
        (nameof(MaxPositionPctPortfolio), MaxPositionPctPortfolio),
        (nameof(MaxTotalExposureUsd), MaxTotalExposureUsd),
        (nameof(MaxLeverage), MaxLeverage),
        (nameof(MaxOpenPositions), MaxOpenPositions),
        (nameof(MaxOrdersPerMinute), MaxOrdersPerMinute),
        (nameof(MaxOrdersPerDay), MaxOrdersPerDay),
        (nameof(MaxOrdersPerMinuteGlobal), MaxOrdersPerMinuteGlobal),
        (nameof(MaxOrdersPerDayGlobal), MaxOrdersPerDayGlobal),
        (nameof(MaxDailyLossUsd), MaxDailyLossUsd),
        (nameof(MaxWeeklyLossUsd), MaxWeeklyLossUsd),
        (nameof(MaxDrawdownPct), MaxDrawdownPct),
        (nameof(PriceCollarPct), PriceCollarPct),
    ];
}
