using Portal.Domain.Orders;

namespace Portal.Domain.Broker;

public sealed record BrokerOrderRequest(
    Guid OrderId, string ClientOrderId, string StrategyId, string Symbol, OrderSide Side, decimal Quantity,
    OrderType Type, decimal? LimitPrice, TimeInForce TimeInForce);

public enum BrokerOrderStatus { New, PartiallyFilled, Filled, Canceled, Rejected, Expired }

public sealed record BrokerOrderState(
    string ClientOrderId, string BrokerOrderId, string Symbol, OrderSide Side, decimal Quantity,
    decimal FilledQuantity, decimal? AvgFillPrice, BrokerOrderStatus Status, string? RejectReason = null)
{
    public bool IsOpen => Status is BrokerOrderStatus.New or BrokerOrderStatus.PartiallyFilled;
    public decimal RemainingQuantity => IsOpen ? Quantity - FilledQuantity : 0m;
}

public sealed record BrokerPosition(string Symbol, decimal Quantity, decimal AvgPrice);

/// <summary>
/// Cash, positions and open orders as of one moment, so a risk view built from it is consistent. <paramref name="AsOf"/> is
/// when the broker last answered for it: an adapter serving a cached view says how old it is, so broker silence is measured
/// from the broker's last answer, not from when Portal last read the cache.
/// </summary>
public sealed record BrokerPortfolio(decimal Cash, IReadOnlyList<BrokerPosition> Positions, IReadOnlyList<BrokerOrderState> OpenOrders, DateTimeOffset AsOf);

public enum BrokerErrorKind { Rejected, Unavailable }

/// <summary>A broker said no (Rejected) or could not be reached (Unavailable: the order's fate may be unknown).</summary>
public sealed class BrokerException(BrokerErrorKind kind, string code, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public BrokerErrorKind Kind { get; } = kind;
    public string Code { get; } = code;
}

/// <summary>
/// Part of a batch (cancel all orders, close all positions) failed: what the broker did do, and one
/// line per order or position it could not, so a halt can report each failure.
/// </summary>
public sealed class BrokerBatchException(IReadOnlyList<BrokerOrderState> completed, IReadOnlyList<string> failures)
    : Exception($"{failures.Count} item(s) failed: {string.Join("; ", failures)}")
{
    public IReadOnlyList<BrokerOrderState> Completed { get; } = completed;
    public IReadOnlyList<string> Failures { get; } = failures;
}

/// <summary>
/// The port every broker adapter implements. <see cref="SubmitAsync"/> is idempotent on the client
/// order id: a second call for the same id returns the existing order and never creates another.
/// <see cref="OrderUpdated"/> is raised after the adapter has recorded the change durably.
/// </summary>
public interface IBroker
{
    string Name { get; }
    /// <summary>
    /// True when the broker's own changes are rows in Portal's database and an accepted order's submission commits in the
    /// transaction that records its decision (the paper broker); false when it is called once the decision is durable.
    /// </summary>
    bool JoinsDecisionTransaction { get; }
    /// <summary>False for a simulated account (the paper broker, Alpaca's paper endpoint): drills may send it orders that rest.</summary>
    bool UsesRealMoney { get; }
    Task<BrokerOrderState> SubmitAsync(BrokerOrderRequest request, CancellationToken ct);
    Task<BrokerOrderState?> GetOrderAsync(string clientOrderId, CancellationToken ct);
    Task<BrokerPortfolio> GetPortfolioAsync(CancellationToken ct);
    /// <summary>The order's state after the cancel; null if the broker has no such order.</summary>
    Task<BrokerOrderState?> CancelOrderAsync(string clientOrderId, CancellationToken ct);
    /// <summary>The orders cancelled; <see cref="BrokerBatchException"/> when some could not be.</summary>
    Task<IReadOnlyList<BrokerOrderState>> CancelAllOrdersAsync(CancellationToken ct);
    /// <summary>The closing orders (after cancelling open orders); <see cref="BrokerBatchException"/> when some positions could not be closed.</summary>
    Task<IReadOnlyList<BrokerOrderState>> CloseAllPositionsAsync(CancellationToken ct);
    event Action<BrokerOrderState>? OrderUpdated;
}

/// <summary>
/// The broker's own kill switch: while engaged the broker refuses every new order, including orders sent around
/// Portal. Only brokers that have one register it (Alpaca's <c>suspend_trade</c>); the paper broker has none.
/// </summary>
public interface IBrokerKillPath
{
    string Broker { get; }
    Task<bool> IsEngagedAsync(CancellationToken ct);
    /// <summary>Sets the switch and returns the state the broker reports back.</summary>
    Task<bool> SetEngagedAsync(bool engaged, CancellationToken ct);
}
