using Portal.Features.Orders;

namespace Portal.Features.Dashboard;

/// <summary>What the dashboard seeds from the <c>orders</c> table (through <see cref="OrderStore"/>) when it opens; live events keep it current afterwards.</summary>
public sealed class DashboardQueries(OrderStore orders)
{
    public Task<List<DateTimeOffset>> DecisionTimesSinceAsync(DateTimeOffset since, CancellationToken ct) => orders.DecisionTimesSinceAsync(since, ct);

    /// <summary>The newest refusals first.</summary>
    public Task<List<OrderDecisionEvent>> RecentRefusalsAsync(int count, CancellationToken ct) => orders.RecentRefusalsAsync(count, ct);
}
