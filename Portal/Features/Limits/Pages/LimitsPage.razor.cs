using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.EntityFrameworkCore;
using MudBlazor;
using Portal.Domain.Risk;
using Portal.Features.Identity;
using Portal.Features.Live;
using Portal.Features.Risk;
using Portal.Infrastructure.Postgres;

namespace Portal.Features.Limits.Pages;

public sealed partial class LimitsPage : IDisposable
{
    private LimitVersionView? _active;
    private IReadOnlyList<LimitRow> _rows = [];
    private IReadOnlyList<LimitVersionView> _pending = [];
    private IReadOnlyList<HistoryRow> _history = [];
    private string? _decider;

    [Inject] private LimitStore Store { get; set; } = null!;
    [Inject] private RiskBook Book { get; set; } = null!;
    [Inject] private Portal.Features.Readiness.DeploymentPhaseStore Phases { get; set; } = null!;
    [Inject] private IDbContextFactory<PortalDbContext> DbFactory { get; set; } = null!;
    [Inject] private OpsEventBus Live { get; set; } = null!;
    [Inject] private TimeProvider Clock { get; set; } = null!;
    [Inject] private ISnackbar Snackbar { get; set; } = null!;
    [Inject] private AuthenticationStateProvider Authentication { get; set; } = null!;
    [Inject] private IAuthorizationService Authorization { get; set; } = null!;
    [Inject] private IConfiguration Configuration { get; set; } = null!;

    private bool RequireApproval => Configuration.GetValue(LimitsApi.RequireApprovalKey, true);

    protected override void OnInitialized() => Live.Received += OnLiveEvent;

    protected override async Task OnInitializedAsync()
    {
        var user = (await Authentication.GetAuthenticationStateAsync()).User;
        if ((await Authorization.AuthorizeAsync(user, Policies.RiskOfficer)).Succeeded) _decider = LimitsApi.Actor(user);
        await LoadAsync();
    }

    public void Dispose() => Live.Received -= OnLiveEvent;

    private void OnLiveEvent(OpsEvent opsEvent)
    {
        if (opsEvent.Type != OpsEventTypes.Limits) return;
        _ = InvokeAsync(async () =>
        {
            await LoadAsync();
            StateHasChanged();
        });
    }

    private async Task LoadAsync()
    {
        _active = Store.Current ?? await Store.LoadAsync(CancellationToken.None);
        _pending = await Store.PendingAsync(CancellationToken.None);
        _history = HistoryRow.From(await Store.HistoryAsync(100, CancellationToken.None));
        _rows = await LimitRowsAsync(_active.Limits);
    }

    /// <summary>Each limit with its ceiling and, where Portal measures it, what is used of it now.</summary>
    private async Task<IReadOnlyList<LimitRow>> LimitRowsAsync(RiskLimits limits)
    {
        var snapshot = Book.Snapshot;
        var used = new Dictionary<string, decimal>();
        var measures = new Dictionary<string, string>
        {
            [nameof(RiskLimits.MaxTotalExposureUsd)] = "gross exposure",
            [nameof(RiskLimits.MaxDailyLossUsd)] = "loss since the day's start",
            [nameof(RiskLimits.MaxWeeklyLossUsd)] = "loss since the week's start",
            [nameof(RiskLimits.MaxDrawdownPct)] = "drawdown from the high-water mark",
            [nameof(RiskLimits.MaxOpenPositions)] = "open positions",
            [nameof(RiskLimits.MaxOrdersPerMinuteGlobal)] = "orders accepted in the last minute",
        };
        if (snapshot is not null)
        {
            used[nameof(RiskLimits.MaxTotalExposureUsd)] = snapshot.GrossExposureUsd;
            used[nameof(RiskLimits.MaxDailyLossUsd)] = snapshot.DailyLossUsd;
            used[nameof(RiskLimits.MaxWeeklyLossUsd)] = snapshot.WeeklyLossUsd;
            used[nameof(RiskLimits.MaxDrawdownPct)] = snapshot.Drawdown;
            used[nameof(RiskLimits.MaxOpenPositions)] = snapshot.OpenPositionCount;
            if (snapshot.Books.Count > 0)
            {
                var largest = snapshot.Books.MaxBy(b => b.Value.ExposureUsd);
                used[nameof(RiskLimits.MaxPositionSizeUsd)] = largest.Value.ExposureUsd;
                measures[nameof(RiskLimits.MaxPositionSizeUsd)] = $"largest position, {largest.Key}";
            }
        }
        await using (var db = await DbFactory.CreateDbContextAsync())
        {
            var since = Clock.GetUtcNow().AddMinutes(-1);
            used[nameof(RiskLimits.MaxOrdersPerMinuteGlobal)] = await db.Orders.CountAsync(o => o.CreatedAt >= since && o.Decision == "accepted");
        }
        var ceilings = Store.Ceilings.Entries().ToDictionary(e => e.Name, e => e.Value);
        // What the order path enforces: the approved limits under the deployment phase's caps (docs/go-live.md).
        var enforced = Phases.Cap(limits).Entries().ToDictionary(e => e.Name, e => e.Value);
        return limits.Entries().Select(e => new LimitRow(e.Name, e.Value, enforced[e.Name], ceilings[e.Name],
            used.TryGetValue(e.Name, out var u) ? u : null, measures.GetValueOrDefault(e.Name))).ToList();
    }

    private async Task ProposeAsync(LimitProposal proposal)
    {
        // The form checked each field; the ceilings are checked again here, where the change is made.
        var problems = LimitRules.Validate(proposal.Limits, Store.Ceilings);
        if (problems.Count > 0)
        {
            Snackbar.Add(string.Join(" ", problems.Select(p => $"{LimitText.Label(p.Key)} {p.Value}")), Severity.Error);
            return;
        }
        if (RequireApproval)
        {
            var pending = await Store.ProposeAsync(proposal.Limits, _active!.Version, proposal.Reason, _decider!, keyOwner: null, CancellationToken.None);
            Snackbar.Add($"Version {pending.Version} waits for another RiskOfficer's approval.", Severity.Info);
        }
        else
        {
            var change = await Store.ChangeAsync(proposal.Limits, _active!.Version, proposal.Reason, _decider!, CancellationToken.None);
            if (change.Version is { } applied) Snackbar.Add($"Version {applied.Version} is in force.", Severity.Success);
            else
            {
                // This instance may not have heard of the other change yet: read the limits in force from Postgres.
                await Store.LoadAsync(CancellationToken.None);
                Snackbar.Add("Other limits were put in force meanwhile; the form shows them now: make the change again.", Severity.Warning);
            }
        }
        await LoadAsync();
    }

    private Task ApproveAsync(LimitVersionView version) => DecideAsync(Store.ApproveAsync(version.Version, _decider!, CancellationToken.None), "approved and in force");

    private Task RejectAsync(LimitVersionView version) => DecideAsync(Store.RejectAsync(version.Version, _decider!, CancellationToken.None), "rejected");

    private async Task DecideAsync(Task<LimitDecision> decide, string done)
    {
        var decision = await decide;
        var message = decision.Status switch
        {
            LimitDecisionStatus.Done => $"Version {decision.Version!.Version} {done}.",
            LimitDecisionStatus.SameOfficer => "You proposed this change: another RiskOfficer must approve it.",
            LimitDecisionStatus.Invalid => "No longer fits the ceilings: " + string.Join(" ", decision.Errors!.Select(p => $"{LimitText.Label(p.Key)} {p.Value}")),
            LimitDecisionStatus.Stale => "Other limits were put in force since this was proposed; reject it and propose again.",
            _ => "This change was already decided.",
        };
        Snackbar.Add(message, decision.Status == LimitDecisionStatus.Done ? Severity.Success : Severity.Warning);
        await LoadAsync();
    }

    private static double UsagePercent(decimal used, decimal limit) => limit <= 0m ? 100d : (double)Math.Min(100m, used / limit * 100m);

    private static Color UsageColor(decimal used, decimal limit) => UsagePercent(used, limit) switch
    {
        >= 90d => Color.Error,
        >= 70d => Color.Warning,
        _ => Color.Success,
    };

    private static Color StateColor(string state) => state switch
    {
        LimitStates.Active => Color.Success,
        LimitStates.Pending => Color.Warning,
        LimitStates.Rejected => Color.Error,
        _ => Color.Default,
    };

    /// <param name="Value">The approved (operational) limit.</param>
    /// <param name="Enforced">The limit orders are checked against now: <paramref name="Value"/> under the deployment phase's cap.</param>
    /// <param name="Measures">What <paramref name="Used"/> is, e.g. "largest position, AAPL".</param>
    private sealed record LimitRow(string Name, decimal Value, decimal Enforced, decimal Ceiling, decimal? Used, string? Measures);

    /// <summary>A version and what it changed against the version in force before it (null for the first).</summary>
    private sealed record HistoryRow(LimitVersionView Version, IReadOnlyList<LimitChange>? Changes)
    {
        /// <summary><paramref name="newestFirst"/>: each version is compared with the next older one that was in force.</summary>
        public static IReadOnlyList<HistoryRow> From(IReadOnlyList<LimitVersionView> newestFirst) =>
            newestFirst.Select((version, i) =>
            {
                var before = newestFirst.Skip(i + 1).FirstOrDefault(v => v.State is LimitStates.Active or LimitStates.Superseded);
                return new HistoryRow(version, before is null ? null : LimitChange.Between(before.Limits, version.Limits));
            }).ToList();
    }
}
