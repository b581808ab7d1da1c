using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Portal.Domain.Trading;
using Portal.Features.Audit;
using Portal.Features.Live;

namespace Portal.Features.Halt.Pages;

/// <summary>
/// RiskOfficers request a resume of everything or of one strategy, to active or to reduce only, with a reason; a
/// different RiskOfficer approves a pending one, or rejects it (its requester withdraws it).
/// </summary>
public sealed partial class ResumeSection
{
    [Inject] private IHaltCommands Commands { get; set; } = default!;
    [Inject] private ITradingStatusSource Status { get; set; } = default!;
    [Inject] private IActorNames ActorNames { get; set; } = default!;
    [CascadingParameter] private Task<AuthenticationState> Authentication { get; set; } = default!;

    private IReadOnlyList<ResumeRequestView> _pending = [];
    private IReadOnlyDictionary<string, string> _names = new Dictionary<string, string>();
    private ResumeOutcome? _outcome;
    private string? _reason;
    private string _actor = "";
    private string? _strategy;
    private TradingMode _target = TradingMode.Active;

    private IEnumerable<string> StrategiesNotActive => Status.Current.StrategiesNotActive.Select(e => TradingScopes.StrategyOf(e.Scope)).OfType<string>();

    private static string ScopeText(string scope) => TradingScopes.StrategyOf(scope) is { } strategy ? $"strategy {strategy}" : "everything";

    private static string TargetText(string target) => target == TradingModeText.Format(TradingMode.ReduceOnly) ? "reduce only" : "active";

    protected override async Task OnInitializedAsync()
    {
        _actor = PortalActor.Of((await Authentication).User);
        await LoadPendingAsync();
    }

    // Resume requests and approvals raise alerts; the trading state changes when one is approved.
    protected override bool Handle(OpsEvent opsEvent)
    {
        if (opsEvent.Type is not (OpsEventTypes.Alert or OpsEventTypes.TradingState)) return false;
        _ = InvokeAsync(RefreshAsync);
        // A strategy resumed meanwhile is no longer one to choose.
        return opsEvent.Type == OpsEventTypes.TradingState;
    }

    /// <summary>The pending requests, with their requesters' emails: requests record the person's user id.</summary>
    private async Task LoadPendingAsync()
    {
        _pending = await Commands.PendingResumesAsync();
        _names = await ActorNames.NamesAsync(_pending.Select(r => r.RequestedBy), CancellationToken.None);
    }

    private async Task RefreshAsync()
    {
        await LoadPendingAsync();
        StateHasChanged();
    }

    private async Task RequestAsync()
    {
        _outcome = await Commands.RequestResumeAsync(_reason!.Trim(), _strategy, _target, _actor);
        if (_outcome.Status != ResumeStatus.Refused) _reason = null;
        await LoadPendingAsync();
    }

    private async Task RejectAsync(Guid requestId)
    {
        _outcome = await Commands.RejectResumeAsync(requestId, _actor);
        await LoadPendingAsync();
    }

    private async Task ApproveAsync(Guid requestId)
    {
        _outcome = await Commands.ApproveResumeAsync(requestId, _actor);
        await LoadPendingAsync();
    }
}
