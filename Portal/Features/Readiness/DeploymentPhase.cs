using Portal.Domain.Risk;
using Portal.Features.Limits;

namespace Portal.Features.Readiness;

/// <summary>The seed's deployment strategy, in order of risk: each step up is gated on a green checklist.</summary>
public enum DeploymentPhase { Paper = 0, SmallLive = 1, ScaleUp = 2 }

public static class DeploymentPhases
{
    public static string Format(DeploymentPhase phase) => phase switch
    {
        DeploymentPhase.Paper => "paper",
        DeploymentPhase.SmallLive => "small_live",
        _ => "scale_up",
    };

    public static DeploymentPhase? Parse(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "paper" => DeploymentPhase.Paper,
        "small_live" or "smalllive" => DeploymentPhase.SmallLive,
        "scale_up" or "scaleup" => DeploymentPhase.ScaleUp,
        _ => null,
    };

    public static string Title(DeploymentPhase phase) => phase switch
    {
        DeploymentPhase.Paper => "Paper",
        DeploymentPhase.SmallLive => "Small Live",
        _ => "Scale Up",
    };

    /// <summary>Real money moves in this phase.</summary>
    public static bool IsLive(DeploymentPhase phase) => phase != DeploymentPhase.Paper;

    /// <summary>
    /// Ceilings each phase adds on top of <c>Risk:Ceilings</c> (the lower value wins). Small Live is the seed's
    /// "$1,000 account, max $100 positions": no order or position above $100, exposure no more than the account,
    /// and a day's loss of 5 % of it halts trading. Scale Up is ten times that (a $10,000 account): the seed says
    /// "gradually increase limits", so beyond it the configured ceilings and the four-eyes limit changes take over.
    /// </summary>
    public static IReadOnlyDictionary<string, decimal> CeilingPreset(DeploymentPhase phase) => phase switch
    {
        DeploymentPhase.SmallLive => SmallLive,
        DeploymentPhase.ScaleUp => ScaleUp,
        _ => NoPreset,
    };

    /// <summary>The account size each live phase is meant for (shown, not enforced: the broker holds the money).</summary>
    public static decimal? AccountUsd(DeploymentPhase phase) => phase switch
    {
        DeploymentPhase.SmallLive => 1_000m,
        DeploymentPhase.ScaleUp => 10_000m,
        _ => null,
    };

    private static readonly Dictionary<string, decimal> NoPreset = new();

    private static readonly Dictionary<string, decimal> SmallLive = new()
    {
        [nameof(RiskLimits.MaxOrderValueUsd)] = 100m,
        [nameof(RiskLimits.MaxPositionSizeUsd)] = 100m,
        [nameof(RiskLimits.MaxTotalExposureUsd)] = 1_000m,
        [nameof(RiskLimits.MaxLeverage)] = 1m,
        [nameof(RiskLimits.MaxDailyLossUsd)] = 50m,
        [nameof(RiskLimits.MaxWeeklyLossUsd)] = 100m,
    };

    private static readonly Dictionary<string, decimal> ScaleUp = new()
    {
        [nameof(RiskLimits.MaxOrderValueUsd)] = 1_000m,
        [nameof(RiskLimits.MaxPositionSizeUsd)] = 1_000m,
        [nameof(RiskLimits.MaxTotalExposureUsd)] = 10_000m,
        [nameof(RiskLimits.MaxLeverage)] = 1m,
        [nameof(RiskLimits.MaxDailyLossUsd)] = 500m,
        [nameof(RiskLimits.MaxWeeklyLossUsd)] = 1_000m,
    };

    /// <summary>The limits with the phase's ceilings applied.</summary>
    public static RiskLimits Cap(RiskLimits limits, DeploymentPhase phase)
    {
        var preset = CeilingPreset(phase);
        if (preset.Count == 0) return limits;
        var capped = limits.Entries().ToDictionary(e => e.Name, e => preset.TryGetValue(e.Name, out var ceiling) ? Math.Min(e.Value, ceiling) : e.Value);
        return RiskOptions.ToLimits(capped, null);
    }
}
