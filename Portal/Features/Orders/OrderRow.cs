namespace Portal.Features.Orders;

/// <summary>One order request and its decision, as stored in <c>orders</c>.</summary>
public sealed class OrderRow
{
    public Guid Id { get; set; }
    public required string ClientOrderId { get; set; }
    public required byte[] RequestHash { get; set; }
    public required string StrategyId { get; set; }
    public required string Symbol { get; set; }
    public required string Side { get; set; }
    public decimal Quantity { get; set; }
    public required string OrderType { get; set; }
    public decimal? LimitPrice { get; set; }
    public required string TimeInForce { get; set; }
    public required string Decision { get; set; }
    public string? Reason { get; set; }
    public decimal? LimitValue { get; set; }
    public decimal? ActualValue { get; set; }
    public string? Message { get; set; }
    public decimal? ReferencePrice { get; set; }
    public required string Status { get; set; }
    public string? BrokerOrderId { get; set; }
    public decimal FilledQuantity { get; set; }
    public decimal? AvgFillPrice { get; set; }
    public required string Actor { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>Order statuses of our own (the broker's come from <see cref="OrderText.Format(Portal.Domain.Broker.BrokerOrderStatus)"/>).</summary>
public static class OrderStatuses
{
    public const string Rejected = "rejected";
    public const string PendingSubmit = "pending_submit";
    /// <summary>The broker's answer is unknown or it was unreachable: reconciliation looks for the order there.</summary>
    public const string SubmitFailed = "submit_failed";
    /// <summary>The broker answered and refused the order (e.g. buying power): it certainly holds no such order.</summary>
    public const string BrokerRejected = "broker_rejected";
}
