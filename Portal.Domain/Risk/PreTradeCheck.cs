using Portal.Domain.MarketData;
using Portal.Domain.Orders;
using Portal.Domain.Trading;

namespace Portal.Domain.Risk;

/// <summary>
/// The hard pre-trade limits as one pure function. Every comparison is "actual &gt; limit refuses",
/// so a value exactly at its limit passes. Size, exposure and loss checks only refuse orders that
/// add risk: an order that shrinks the worst-case position always passes them. A figure that overflows decimal, or a
/// refusal whose figures the orders table could not record, refuses with <see cref="RejectReason.NumberOutOfRange"/>:
/// hostile numbers are refusals, never failures.
/// </summary>
public static class PreTradeCheck
{
    /// <summary>The largest limit or actual a refusal may carry: orders.limit_value and actual_value are numeric(38,12).</summary>
    public const decimal MaxRecordableFigure = 99_999_999_999_999_999_999_999_999.999999999999m;

    public static RiskDecision Evaluate(
        in OrderIntent order, PortfolioSnapshot portfolio, RiskLimits limits, in OrderCounters counters,
        decimal? referencePrice, SymbolDataStatus dataStatus, TradingMode mode)
    {
        RiskDecision decision;
        try
        {
            decision = EvaluateFigures(order, portfolio, limits, counters, referencePrice, dataStatus, mode);
        }
        catch (OverflowException)
        {
            return RiskDecision.Reject(RejectReason.NumberOutOfRange, 0m, 0m);
        }
        return Math.Abs(decision.Limit) > MaxRecordableFigure || Math.Abs(decision.Actual) > MaxRecordableFigure
            ? RiskDecision.Reject(RejectReason.NumberOutOfRange, 0m, 0m)
            : decision;
    }

    private static RiskDecision EvaluateFigures(
        in OrderIntent order, PortfolioSnapshot portfolio, RiskLimits limits, in OrderCounters counters,
        decimal? referencePrice, SymbolDataStatus dataStatus, TradingMode mode)
    {
        if (mode == TradingMode.Halted)
            return RiskDecision.Reject(RejectReason.TradingHalted, 0m, 0m);
        if (referencePrice is not { } mark || mark <= 0m)
            return RiskDecision.Reject(RejectReason.NoReferencePrice, 0m, 0m);
        // A price that is old or doubtful is no reference: even a reducing order would be priced blind.
        if (dataStatus == SymbolDataStatus.Stale)
            return RiskDecision.Reject(RejectReason.DataStale, 0m, 0m);
        if (dataStatus == SymbolDataStatus.Suspect)
            return RiskDecision.Reject(RejectReason.DataSuspect, 0m, 0m);

        var book = portfolio.Book(order.Symbol) with { Mark = mark };
        var before = book.WorstCaseQuantity;
        var after = order.Side == OrderSide.Buy
            ? Math.Max(Math.Abs(book.PositionQuantity + book.OpenBuyQuantity + order.Quantity), Math.Abs(book.PositionQuantity - book.OpenSellQuantity))
            : Math.Max(Math.Abs(book.PositionQuantity + book.OpenBuyQuantity), Math.Abs(book.PositionQuantity - book.OpenSellQuantity - order.Quantity));
        var addsRisk = after > before;

        if (mode == TradingMode.ReduceOnly && !OnlyReduces(order, book))
            return RiskDecision.Reject(RejectReason.ReduceOnly, 0m, 0m);

        if (order.Quantity > limits.MaxOrderQuantity)
            return RiskDecision.Reject(RejectReason.MaxOrderQuantity, limits.MaxOrderQuantity, order.Quantity);

        // A buy limit pays at most its limit; a sell limit below the market fills at about the market, so it is valued at the
        // higher of the two (its limit alone would pass it by up to the price collar).
        var orderPrice = order.Type == OrderType.Limit && order.LimitPrice is { } limitPrice
            ? order.Side == OrderSide.Buy ? limitPrice : Math.Max(limitPrice, mark)
            : mark;
        var orderValue = order.Quantity * orderPrice;
        if (orderValue > limits.MaxOrderValueUsd)
            return RiskDecision.Reject(RejectReason.MaxOrderValue, limits.MaxOrderValueUsd, orderValue);

        if (order.Type == OrderType.Limit && order.LimitPrice is { } price)
        {
            var deviation = Math.Abs(price - mark) / mark;
            if (deviation > limits.PriceCollarPct)
                return RiskDecision.Reject(RejectReason.PriceCollar, limits.PriceCollarPct, deviation);
        }

        if (!addsRisk) return CheckRates(limits, counters);

        var equity = portfolio.Equity;
        if (equity <= 0m)
            return RiskDecision.Reject(RejectReason.NonPositiveEquity, 0m, equity);
        if (portfolio.DailyLossUsd > limits.MaxDailyLossUsd)
            return RiskDecision.Reject(RejectReason.MaxDailyLoss, limits.MaxDailyLossUsd, portfolio.DailyLossUsd);
        if (portfolio.WeeklyLossUsd > limits.MaxWeeklyLossUsd)
            return RiskDecision.Reject(RejectReason.MaxWeeklyLoss, limits.MaxWeeklyLossUsd, portfolio.WeeklyLossUsd);
        if (portfolio.Drawdown > limits.MaxDrawdownPct)
            return RiskDecision.Reject(RejectReason.MaxDrawdown, limits.MaxDrawdownPct, portfolio.Drawdown);

        var positionAfterUsd = after * mark;
        if (positionAfterUsd > limits.MaxPositionSizeUsd)
            return RiskDecision.Reject(RejectReason.MaxPositionSize, limits.MaxPositionSizeUsd, positionAfterUsd);
        var positionShare = positionAfterUsd / equity;
        if (positionShare > limits.MaxPositionPctPortfolio)
            return RiskDecision.Reject(RejectReason.MaxPositionPctPortfolio, limits.MaxPositionPctPortfolio, positionShare);

        // The snapshot's gross uses the symbol's stored mark; swap in this symbol at the reference price.
        var grossAfter = portfolio.GrossExposureUsd - portfolio.Book(order.Symbol).ExposureUsd + positionAfterUsd;
        if (grossAfter > limits.MaxTotalExposureUsd)
            return RiskDecision.Reject(RejectReason.MaxTotalExposure, limits.MaxTotalExposureUsd, grossAfter);
        var leverage = grossAfter / equity;
        if (leverage > limits.MaxLeverage)
            return RiskDecision.Reject(RejectReason.MaxLeverage, limits.MaxLeverage, leverage);

        if (before == 0m)
        {
            var openAfter = portfolio.OpenPositionCount + 1;
            if (openAfter > limits.MaxOpenPositions)
                return RiskDecision.Reject(RejectReason.MaxOpenPositions, limits.MaxOpenPositions, openAfter);
        }

        return CheckRates(limits, counters);
    }

    /// <summary>Shrinks the position toward zero without crossing it, counting working orders on the same side.</summary>
    private static bool OnlyReduces(in OrderIntent order, SymbolBook book) => book.PositionQuantity switch
    {
        > 0m => order.Side == OrderSide.Sell && book.PositionQuantity - book.OpenSellQuantity - order.Quantity >= 0m,
        < 0m => order.Side == OrderSide.Buy && book.PositionQuantity + book.OpenBuyQuantity + order.Quantity <= 0m,
        _ => false,
    };

    /// <summary>Rate limits count this order too, so the check is on the count after it.</summary>
    public static RiskDecision CheckRates(RiskLimits limits, in OrderCounters counters)
    {
        if (counters.StrategyLastMinute + 1 > limits.MaxOrdersPerMinute)
            return RiskDecision.Reject(RejectReason.MaxOrdersPerMinute, limits.MaxOrdersPerMinute, counters.StrategyLastMinute + 1);
        if (counters.GlobalLastMinute + 1 > limits.MaxOrdersPerMinuteGlobal)
            return RiskDecision.Reject(RejectReason.MaxOrdersPerMinuteGlobal, limits.MaxOrdersPerMinuteGlobal, counters.GlobalLastMinute + 1);
        if (counters.StrategyToday + 1 > limits.MaxOrdersPerDay)
            return RiskDecision.Reject(RejectReason.MaxOrdersPerDay, limits.MaxOrdersPerDay, counters.StrategyToday + 1);
        if (counters.GlobalToday + 1 > limits.MaxOrdersPerDayGlobal)
            return RiskDecision.Reject(RejectReason.MaxOrdersPerDayGlobal, limits.MaxOrdersPerDayGlobal, counters.GlobalToday + 1);
        return RiskDecision.Accepted;
    }

    /// <summary>The API key's own allowance, counted across every strategy it trades; this order counts too.</summary>
    public static RiskDecision CheckKeyRates(KeyRateLimits limits, in OrderCounters counters)
    {
        if (counters.KeyLastMinute + 1 > limits.MaxOrdersPerMinute)
            return RiskDecision.Reject(RejectReason.MaxOrdersPerMinutePerKey, limits.MaxOrdersPerMinute, counters.KeyLastMinute + 1);
        if (counters.KeyToday + 1 > limits.MaxOrdersPerDay)
            return RiskDecision.Reject(RejectReason.MaxOrdersPerDayPerKey, limits.MaxOrdersPerDay, counters.KeyToday + 1);
        return RiskDecision.Accepted;
    }
}
