using Portal.Features.Auth;
using Portal.Features.Identity;

namespace Portal.Features.Live;

/// <summary>
/// Who may read each live event on <c>/hubs/ops</c>: the same policy as the API that reads the same data.
/// The trading state, halt progress, safe mode and alerts are public to every caller (as <c>GET /api/trading-state</c>
/// is): a wall screen or any key must be able to see that trading stopped. Orders need the <c>orders</c> scope, market
/// data <c>ticks</c>, limits <c>limits</c>, model drift <c>observations</c>; people need a staff role. Any other event
/// type (readiness drills, phase changes, whatever is added later) is for staff only.
/// </summary>
public static class OpsEventAccess
{
    private static readonly string StaffOnly = Policies.AnyStaff;

    private static readonly Dictionary<string, string> PolicyByType = new(StringComparer.Ordinal)
    {
        [OpsEventTypes.TradingState] = Policies.AnyCaller,
        [OpsEventTypes.HaltProgress] = Policies.AnyCaller,
        [OpsEventTypes.SafeMode] = Policies.AnyCaller,
        [OpsEventTypes.Alert] = Policies.AnyCaller,
        [OpsEventTypes.OrderDecision] = Policies.ScopeOr(Scopes.Orders, Policies.AnyStaff),
        [OpsEventTypes.OrderUpdate] = Policies.ScopeOr(Scopes.Orders, Policies.AnyStaff),
        [OpsEventTypes.MarketData] = Policies.ScopeOr(Scopes.Ticks, Policies.AnyStaff),
        [OpsEventTypes.Limits] = Policies.ScopeOr(Scopes.Limits, Policies.AnyStaff),
        [OpsEventTypes.ModelDrift] = Policies.ScopeOr(Scopes.Observations, Policies.AnyStaff),
    };

    /// <summary>Every read policy a connection is checked against when it connects.</summary>
    public static IReadOnlyList<string> ReadPolicies { get; } = [.. PolicyByType.Values.Append(StaffOnly).Distinct()];

    public static string PolicyFor(string eventType) => PolicyByType.GetValueOrDefault(eventType, StaffOnly);
}
