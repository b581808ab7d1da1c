namespace Portal.Domain.Risk;

/// <summary>The outcome of the pre-trade check; a value type so a decision allocates nothing.</summary>
public readonly record struct RiskDecision(RejectReason Reason, decimal Limit, decimal Actual)
{
    public static readonly RiskDecision Accepted = new(RejectReason.None, 0m, 0m);

    public bool IsAccepted => Reason == RejectReason.None;

    public static RiskDecision Reject(RejectReason reason, decimal limit, decimal actual) => new(reason, limit, actual);

    public string Describe() => Reason switch
    {
        RejectReason.None => "Accepted.",
        RejectReason.TradingHalted => "Trading is halted; no new orders are accepted.",
        RejectReason.ReduceOnly => "Trading is reduce-only; only orders that shrink a position are accepted.",
        RejectReason.NoReferencePrice => "There is no valid reference price for the symbol.",
        RejectReason.NonPositiveEquity => $"Account equity {Actual:0.##} is not positive.",
        RejectReason.MaxOrderQuantity => $"Order quantity {Actual:0.########} exceeds the maximum of {Limit:0.########}.",
        RejectReason.MaxOrderValue => $"Order value ${Actual:0.00} exceeds the maximum of ${Limit:0.00}.",
        RejectReason.PriceCollar => $"Limit price is {Actual:P2} away from the last valid price; the collar is {Limit:P2}.",
        RejectReason.MaxDailyLoss => $"Daily loss ${Actual:0.00} is beyond the limit of ${Limit:0.00}; only risk-reducing orders are accepted.",
        RejectReason.MaxWeeklyLoss => $"Weekly loss ${Actual:0.00} is beyond the limit of ${Limit:0.00}; only risk-reducing orders are accepted.",
        RejectReason.MaxDrawdown => $"Drawdown {Actual:P2} is beyond the limit of {Limit:P2}; only risk-reducing orders are accepted.",
        RejectReason.MaxPositionSize => $"Position after the order would be ${Actual:0.00}, above the maximum of ${Limit:0.00}.",
        RejectReason.MaxPositionPctPortfolio => $"Position after the order would be {Actual:P2} of equity, above the maximum of {Limit:P2}.",
        RejectReason.MaxTotalExposure => $"Gross exposure after the order would be ${Actual:0.00}, above the maximum of ${Limit:0.00}.",
        RejectReason.MaxLeverage => $"Leverage after the order would be {Actual:0.####}, above the maximum of {Limit:0.####}.",
        RejectReason.MaxOpenPositions => $"The order would open position number {Actual:0}, above the maximum of {Limit:0}.",
        RejectReason.MaxOrdersPerMinute => $"The strategy has sent {Actual:0} orders in the last minute; the maximum is {Limit:0}.",
        RejectReason.MaxOrdersPerDay => $"The strategy has sent {Actual:0} orders today; the maximum is {Limit:0}.",
        RejectReason.MaxOrdersPerMinuteGlobal => $"All strategies together have sent {Actual:0} orders in the last minute; the maximum is {Limit:0}.",
        RejectReason.MaxOrdersPerDayGlobal => $"All strategies together have sent {Actual:0} orders today; the maximum is {Limit:0}.",
        RejectReason.NumberOutOfRange => "A figure of the pre-trade check is beyond the range Portal can compute or record; the order is refused.",
        RejectReason.MaxOrdersPerMinutePerKey => $"This API key has sent {Actual:0} orders in the last minute; the maximum is {Limit:0}.",
        RejectReason.MaxOrdersPerDayPerKey => $"This API key has sent {Actual:0} orders today; the maximum is {Limit:0}.",
        _ => Reason.ToString(),
    };
}
