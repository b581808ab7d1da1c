using System.Security.Claims;
using Portal.Domain.Trading;
using Portal.Features.Auth;
using Portal.Features.Orders;
using Portal.Features.Risk;

namespace Portal.Features.Halt;

public enum TradingStatusKind { Active, ReduceOnly, SafeMode, Halted }

/// <summary>
/// What the trading state banner and chip show: the global state, with safe mode (which refuses new orders) taking
/// precedence over Active/ReduceOnly, and every strategy whose own state is not active (a strategy halted while the
/// whole is active refuses all its orders: the screen must say so).
/// </summary>
public sealed record TradingStatus(TradingStatusKind Kind, string Reason, string ChangedBy, DateTimeOffset Since, string? SafeModeCause)
{
    /// <summary>Every safe-mode cause that holds, in reporting order, with its dependency and since when.</summary>
    public IReadOnlyList<SafeModeCause> SafeModeCauses { get; init; } = [];

    /// <summary>Strategies halted or reduce-only on their own, by strategy id.</summary>
    public IReadOnlyList<TradingStateEntry> StrategiesNotActive { get; init; } = [];

    /// <summary>"1 strategy halted", "2 strategies not active" (some halted, some reduce-only); null when none.</summary>
    public string? StrategiesSummary => StrategiesNotActive.Count switch
    {
        0 => null,
        var n => $"{n} {(n == 1 ? "strategy" : "strategies")} {(StrategiesNotActive.All(e => e.Mode == TradingMode.Halted) ? "halted" : StrategiesNotActive.All(e => e.Mode == TradingMode.ReduceOnly) ? "reduce-only" : "not active")}",
    };

    public string Title => Kind switch
    {
        TradingStatusKind.Active => "Active",
        TradingStatusKind.ReduceOnly => "Reduce only",
        TradingStatusKind.SafeMode => "Safe mode",
        _ => "Halted",
    };
}

public sealed record SafeModeCause(string Cause, string Dependency, DateTimeOffset Since);

/// <summary>The current <see cref="TradingStatus"/>, behind an interface so components can be tested without the trading machinery.</summary>
public interface ITradingStatusSource
{
    TradingStatus Current { get; }
}

public sealed class TradingStatusSource(TradingStateStore store, SafeModeMonitor safeMode) : ITradingStatusSource
{
    public TradingStatus Current
    {
        get
        {
            var global = store.Get(TradingScopes.Global);
            var cause = safeMode.Reason;
            var safeModeSince = cause is not null && safeMode.Active.TryGetValue(cause, out var since) ? since : global.ChangedAt;
            var status = global.Mode switch
            {
                TradingMode.Halted => new TradingStatus(TradingStatusKind.Halted, global.Reason, global.ChangedBy, global.ChangedAt, cause),
                _ when cause is not null => new TradingStatus(TradingStatusKind.SafeMode, $"New orders are refused: {cause}", "system", safeModeSince, cause),
                TradingMode.ReduceOnly => new TradingStatus(TradingStatusKind.ReduceOnly, global.Reason, global.ChangedBy, global.ChangedAt, null),
                _ => new TradingStatus(TradingStatusKind.Active, global.Reason, global.ChangedBy, global.ChangedAt, null),
            };
            var active = safeMode.Active;
            return status with
            {
                SafeModeCauses = [.. SafeModeMonitor.Causes.Where(active.ContainsKey).Select(c => new SafeModeCause(c, SafeModeMonitor.DependencyOf(c), active[c]))],
                StrategiesNotActive = [.. store.All.Where(e => e.Mode != TradingMode.Active && TradingScopes.StrategyOf(e.Scope) is not null)],
            };
        }
    }
}

/// <summary>Who a signed-in person is in the trading state and resume records (the same on the API and the pages, so four-eyes holds across both).</summary>
public static class PortalActor
{
    public static string Of(ClaimsPrincipal user) => user.FindFirstValue(ClaimTypes.NameIdentifier) ?? user.Identity?.Name ?? "unknown";
}

/// <summary>What a halt of a scope would act on now: the working orders a cancel cancels, and the positions a flatten closes.</summary>
public sealed record HaltEffect(int OpenOrders, int Positions, decimal PositionsValueUsd);

/// <summary>The kill switch operations the halt page uses, behind an interface so the page's confirmation flow can be tested on its own.</summary>
public interface IHaltCommands
{
    /// <summary>Halts everything (<paramref name="strategyId"/> null) or one strategy.</summary>
    Task<HaltResult> HaltAsync(string reason, HaltMode mode, string? strategyId, string actor);
    Task<HaltEffect> PreviewAsync(string? strategyId);
    /// <summary>Strategies a person may want to halt or resume: those that sent orders in the last day and those not active.</summary>
    Task<IReadOnlyList<string>> StrategiesAsync();
    Task<ResumeOutcome> RequestResumeAsync(string reason, string? strategyId, TradingMode target, string actor);
    Task<ResumeOutcome> ApproveResumeAsync(Guid requestId, string approver);
    Task<ResumeOutcome> RejectResumeAsync(Guid requestId, string actor);
    Task<IReadOnlyList<ResumeRequestView>> PendingResumesAsync();
}

/// <summary>Halts and resumes through the <see cref="KillSwitch"/>; never tied to the circuit, so a dropped connection cannot stop a halt half way.</summary>
public sealed class KillSwitchCommands(KillSwitch killSwitch, OrderStore orders, RiskBook risk, TradingStateStore states, TimeProvider clock) : IHaltCommands
{
    public Task<HaltResult> HaltAsync(string reason, HaltMode mode, string? strategyId, string actor) =>
        killSwitch.HaltAsync(reason, mode, strategyId, actor, automatic: false, CancellationToken.None);

    public async Task<HaltEffect> PreviewAsync(string? strategyId)
    {
        var working = await orders.WorkingCountAsync(strategyId, CancellationToken.None);
        var held = risk.Snapshot?.Books.Values.Where(b => b.PositionQuantity != 0m).ToList() ?? [];
        return new HaltEffect(working, held.Count, held.Sum(b => Math.Abs(b.PositionQuantity) * b.Mark));
    }

    public async Task<IReadOnlyList<string>> StrategiesAsync()
    {
        var recent = await orders.StrategiesSinceAsync(clock.GetUtcNow().AddDays(-1), CancellationToken.None);
        var notActive = states.All.Select(e => TradingScopes.StrategyOf(e.Scope)).OfType<string>();
        return [.. recent.Concat(notActive).Where(s => !StrategyGrants.IsReserved(s)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
    }

    public Task<ResumeOutcome> RequestResumeAsync(string reason, string? strategyId, TradingMode target, string actor) =>
        killSwitch.RequestResumeAsync(reason, strategyId, target, actor, CancellationToken.None);

    public Task<ResumeOutcome> ApproveResumeAsync(Guid requestId, string approver) =>
        killSwitch.ApproveResumeAsync(requestId, approver, CancellationToken.None);

    public Task<ResumeOutcome> RejectResumeAsync(Guid requestId, string actor) =>
        killSwitch.RejectResumeAsync(requestId, actor, CancellationToken.None);

    public Task<IReadOnlyList<ResumeRequestView>> PendingResumesAsync() => killSwitch.PendingResumesAsync(CancellationToken.None);
}
