namespace Portal.Domain.Risk;

/// <summary>Stable codes returned to clients and used as metric labels; never rename one.</summary>
public enum RejectReason
{
    None = 0,
    TradingHalted,
    ReduceOnly,
    NoReferencePrice,
    NonPositiveEquity,
    MaxOrderQuantity,
    MaxOrderValue,
    PriceCollar,
    MaxDailyLoss,
    MaxWeeklyLoss,
    MaxDrawdown,
    MaxPositionSize,
    MaxPositionPctPortfolio,
    MaxTotalExposure,
    MaxLeverage,
    MaxOpenPositions,
    MaxOrdersPerMinute,
    MaxOrdersPerDay,
    MaxOrdersPerMinuteGlobal,
    MaxOrdersPerDayGlobal,
    DataStale,
    DataSuspect,
    /// <summary>A figure of the check overflowed, or is too large to record: refused rather than failed.</summary>
    NumberOutOfRange,
    MaxOrdersPerMinutePerKey,
    MaxOrdersPerDayPerKey,
}
