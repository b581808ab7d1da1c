using Portal.Domain.Orders;
using Portal.Domain.Risk;

namespace Portal.Features.Readiness;

/// <summary>An account and an order that breach exactly one limit (all the checks before it pass), or why the limit cannot be breached.</summary>
public sealed record AccountScenario(RejectReason Expected, OrderIntent Order, PortfolioSnapshot Account, decimal Mark, OrderCounters Counters, string? Problem = null);

/// <summary>
/// Breached accounts for the limits that need an account state (positions, losses, drawdown, counts) to breach, built
/// from the limits themselves so the pre-trade check can be asked about each with the limits in force. Synthetic
/// symbols keep them apart from any real book. A limit set where nothing can breach it (e.g. a 100 % drawdown) is
/// reported as such: that limit is effectively off.
/// </summary>
public static class AccountScenarios
{
    private const string Symbol = "DRILL";
    private const decimal Rich = 1_000_000_000_000m;

    public static IEnumerable<AccountScenario> For(RiskLimits l)
    {
        // One small buy: quantity and value well inside the order-level limits, so only the account-level limit can refuse it.
        var quantity = Math.Min(1m, l.MaxOrderQuantity / 2m);
        var value = Math.Min(Math.Min(l.MaxOrderValueUsd, l.MaxPositionSizeUsd), l.MaxTotalExposureUsd) / 4m;
        var price = value / quantity;
        var buy = new OrderIntent(ReadinessDrills.DrillStrategy, Symbol, OrderSide.Buy, quantity, OrderType.Market, null);

        // Already holding the maximum position: one more share is over it.
        yield return new(RejectReason.MaxPositionSize, buy,
            Account(Rich, Book(Symbol, l.MaxPositionSizeUsd / price, price)), price, default);

        // An account so small that this one position is twice the allowed share of it.
        yield return new(RejectReason.MaxPositionPctPortfolio, buy, Account(value / (2m * l.MaxPositionPctPortfolio)), price, default);

        // Other holdings already at the exposure limit.
        yield return new(RejectReason.MaxTotalExposure, buy, Account(Rich, Book("DRILLX", l.MaxTotalExposureUsd, 1m)), price, default);

        // Gross exposure within its limit but twice the allowed leverage of the equity; the order is kept small enough
        // that its own position stays within the allowed share of that equity.
        var gross = l.MaxTotalExposureUsd / 2m;
        var smallValue = Math.Min(value, l.MaxPositionPctPortfolio * gross / (4m * l.MaxLeverage));
        var smallPrice = smallValue / quantity;
        yield return new(RejectReason.MaxLeverage, buy,
            Account((gross + smallValue) / (2m * l.MaxLeverage), Book("DRILLX", gross, 1m)), smallPrice, default);

        // As many positions open as allowed, all tiny: a new symbol is one too many.
        var open = Enumerable.Range(0, l.MaxOpenPositions).Select(i => Book($"DRILL{i}", 1m, 0.0001m)).ToArray();
        yield return new(RejectReason.MaxOpenPositions, buy, Account(Rich, open), price, default);

        // Down more than the daily (weekly) limit since the day (week) started.
        yield return new(RejectReason.MaxDailyLoss, buy, new PortfolioSnapshot(Rich, Rich + l.MaxDailyLossUsd + 1m, Rich + l.MaxDailyLossUsd + 1m, Rich, Books()), price, default);
        yield return new(RejectReason.MaxWeeklyLoss, buy, new PortfolioSnapshot(Rich, Rich, Rich + l.MaxWeeklyLossUsd + 1m, Rich, Books()), price, default);

        // Further below the high-water mark than the drawdown limit allows.
        yield return l.MaxDrawdownPct >= 1m
            ? new(RejectReason.MaxDrawdown, buy, Account(Rich), price, default, "MaxDrawdownPct is 100 %: no positive equity breaches it (the limit is off)")
            : new(RejectReason.MaxDrawdown, buy, new PortfolioSnapshot(Rich, Rich, Rich, Rich / (1m - l.MaxDrawdownPct) * 1.01m, Books()), price, default);

        // Each rate counter already at its allowance.
        yield return new(RejectReason.MaxOrdersPerMinute, buy, Account(Rich), price, new OrderCounters(l.MaxOrdersPerMinute, 0, 0, 0));
        yield return new(RejectReason.MaxOrdersPerMinuteGlobal, buy, Account(Rich), price, new OrderCounters(0, 0, l.MaxOrdersPerMinuteGlobal, 0));
        yield return new(RejectReason.MaxOrdersPerDay, buy, Account(Rich), price, new OrderCounters(0, l.MaxOrdersPerDay, 0, 0));
        yield return new(RejectReason.MaxOrdersPerDayGlobal, buy, Account(Rich), price, new OrderCounters(0, 0, 0, l.MaxOrdersPerDayGlobal));
    }

    private static (string, SymbolBook) Book(string symbol, decimal quantity, decimal mark) => (symbol, new SymbolBook(quantity, 0m, 0m, mark));

    private static Dictionary<string, SymbolBook> Books(params (string Symbol, SymbolBook Book)[] books) =>
        books.ToDictionary(b => b.Symbol, b => b.Book, StringComparer.Ordinal);

    /// <summary>Flat since the day and week began, at its high-water mark.</summary>
    private static PortfolioSnapshot Account(decimal equity, params (string, SymbolBook)[] books) =>
        new(equity, equity, equity, equity, Books(books));
}
