using System.Globalization;
using Microsoft.Extensions.Options;
using Portal.Domain.Risk;

namespace Portal.Features.Limits;

/// <summary>
/// <c>Risk:Ceilings:*</c>: every limit's hard ceiling, required and validated at start-up.
/// <c>Risk:InitialLimits:*</c>: optional first operational limits for a new database (default: the seed's numbers, capped by the ceilings).
/// </summary>
public sealed class RiskOptions
{
    public const string Section = "Risk";

    public Dictionary<string, decimal> Ceilings { get; set; } = new(StringComparer.Ordinal);
    public Dictionary<string, decimal> InitialLimits { get; set; } = new(StringComparer.Ordinal);

    /// <summary>IANA zone whose calendar day is the trading day (daily loss, orders per day).</summary>
    public string TradingDayTimeZone { get; set; } = "America/New_York";

    public RiskLimits CeilingLimits() => ToLimits(Ceilings, null);

    public RiskLimits FirstOperationalLimits()
    {
        var ceilings = CeilingLimits();
        var capped = RiskLimits.SeedDefaults.Entries()
            .ToDictionary(e => e.Name, e => Math.Min(e.Value, ceilings.Entries().First(c => c.Name == e.Name).Value));
        foreach (var (name, value) in InitialLimits) capped[name] = value;
        return ToLimits(capped, null);
    }

    public static RiskLimits ToLimits(IReadOnlyDictionary<string, decimal> values, RiskLimits? fallback)
    {
        decimal Get(string name) => values.TryGetValue(name, out var v) ? v
            : fallback?.Entries().First(e => e.Name == name).Value ?? throw new KeyNotFoundException(name);
        return new RiskLimits
        {
            MaxOrderValueUsd = Get(nameof(RiskLimits.MaxOrderValueUsd)),
            MaxOrderQuantity = Get(nameof(RiskLimits.MaxOrderQuantity)),
            MaxPositionSizeUsd = Get(nameof(RiskLimits.MaxPositionSizeUsd)),
            MaxPositionPctPortfolio = Get(nameof(RiskLimits.MaxPositionPctPortfolio)),
            MaxTotalExposureUsd = Get(nameof(RiskLimits.MaxTotalExposureUsd)),
            MaxLeverage = Get(nameof(RiskLimits.MaxLeverage)),
            MaxOpenPositions = (int)Get(nameof(RiskLimits.MaxOpenPositions)),
            MaxOrdersPerMinute = (int)Get(nameof(RiskLimits.MaxOrdersPerMinute)),
            MaxOrdersPerDay = (int)Get(nameof(RiskLimits.MaxOrdersPerDay)),
            MaxOrdersPerMinuteGlobal = (int)Get(nameof(RiskLimits.MaxOrdersPerMinuteGlobal)),
            MaxOrdersPerDayGlobal = (int)Get(nameof(RiskLimits.MaxOrdersPerDayGlobal)),
            MaxDailyLossUsd = Get(nameof(RiskLimits.MaxDailyLossUsd)),
            MaxWeeklyLossUsd = Get(nameof(RiskLimits.MaxWeeklyLossUsd)),
            MaxDrawdownPct = Get(nameof(RiskLimits.MaxDrawdownPct)),
            PriceCollarPct = Get(nameof(RiskLimits.PriceCollarPct)),
        };
    }
}

/// <summary>Refuses start-up with a message naming each bad key.</summary>
public sealed class RiskOptionsValidator : IValidateOptions<RiskOptions>
{
    public ValidateOptionsResult Validate(string? name, RiskOptions options)
    {
        var errors = new List<string>();
        foreach (var limit in LimitRules.Names)
        {
            var key = $"{RiskOptions.Section}:Ceilings:{limit}";
            if (!options.Ceilings.TryGetValue(limit, out var value)) errors.Add($"{key} is missing.");
            else if (LimitRules.CheckBounds(limit, value) is { } problem) errors.Add($"{key} {problem}");
        }
        foreach (var unknown in options.Ceilings.Keys.Concat(options.InitialLimits.Keys).Except(LimitRules.Names))
            errors.Add($"{RiskOptions.Section}:Ceilings or InitialLimits:{unknown} is not a known limit.");
        if (errors.Count == 0)
        {
            foreach (var (limit, problem) in LimitRules.Validate(options.FirstOperationalLimits(), options.CeilingLimits()))
                errors.Add($"{RiskOptions.Section}:InitialLimits:{limit} {problem}");
        }
        try
        {
            TimeZoneInfo.FindSystemTimeZoneById(options.TradingDayTimeZone);
        }
        catch (TimeZoneNotFoundException)
        {
            errors.Add($"{RiskOptions.Section}:TradingDayTimeZone '{options.TradingDayTimeZone}' is not a known time zone.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>The trading day in the configured zone: when daily losses and daily order counts reset.</summary>
public sealed class TradingCalendar(IOptions<RiskOptions> options)
{
    private readonly TimeZoneInfo _zone = TimeZoneInfo.FindSystemTimeZoneById(options.Value.TradingDayTimeZone);

    public DateOnly TradingDate(DateTimeOffset now) => DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, _zone).DateTime);

    public DateOnly WeekStart(DateOnly date) => date.AddDays(-(((int)date.DayOfWeek + 6) % 7));

    public string DayKey(DateTimeOffset now) => TradingDate(now).ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    /// <summary>When the trading day holding <paramref name="now"/> began (midnight in the zone), in UTC as Postgres takes it.</summary>
    public DateTimeOffset DayStart(DateTimeOffset now)
    {
        var midnight = TimeZoneInfo.ConvertTime(now, _zone).Date;
        return new DateTimeOffset(midnight, _zone.GetUtcOffset(midnight)).ToUniversalTime();
    }
}
