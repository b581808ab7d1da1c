using System.Globalization;

namespace Portal.Domain.Risk;

/// <summary>
/// When the account's losses halt everything: a daily or weekly loss, or a drawdown, beyond the limits in force.
/// The caller passes those limits after any deployment-phase ceilings, the same ones the pre-trade check uses,
/// so a loss that refuses new risk also halts and cancels (docs/risk-limits.md). At exactly the limit: no halt,
/// as the pre-trade check still accepts there.
/// </summary>
public static class LossHalt
{
    /// <summary>The halt's reason, or null when no loss limit is breached.</summary>
    public static string? Breach(PortfolioSnapshot account, RiskLimits limits)
    {
        ArgumentNullException.ThrowIfNull(account);
        ArgumentNullException.ThrowIfNull(limits);
        var c = CultureInfo.InvariantCulture;
        if (account.DailyLossUsd > limits.MaxDailyLossUsd)
            return string.Format(c, "auto: daily loss ${0:0.00} beyond the limit ${1:0.00}", account.DailyLossUsd, limits.MaxDailyLossUsd);
        if (account.WeeklyLossUsd > limits.MaxWeeklyLossUsd)
            return string.Format(c, "auto: weekly loss ${0:0.00} beyond the limit ${1:0.00}", account.WeeklyLossUsd, limits.MaxWeeklyLossUsd);
        if (account.Drawdown > limits.MaxDrawdownPct)
            return string.Format(c, "auto: drawdown {0:P2} beyond the limit {1:P2}", account.Drawdown, limits.MaxDrawdownPct);
        return null;
    }
}
