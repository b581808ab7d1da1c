using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Portal.Features.Live;

namespace Portal.Features.Halt.Pages;

/// <summary>RiskOfficers request a resume with a reason; a different RiskOfficer approves a pending one, or rejects it (its requester withdraws it).</summary>
public sealed partial class ResumeSection
{
    [Inject] private IHaltCommands Commands { get; set; } = default!;
    [CascadingParameter] private Task<AuthenticationState> Authentication { get; set; } = default!;

    private IReadOnlyList<ResumeRequestView> _pending = [];
    private ResumeOutcome? _outcome;
    private string? _reason;
    private string _actor = "";

    protected override async Task OnInitializedAsync()
    {
        _actor = PortalActor.Of((await Authentication).User);
        _pending = await Commands.PendingResumesAsync();
    }

    // Resume requests and approvals raise alerts; the trading state changes when one is approved.
    protected override bool Handle(OpsEvent opsEvent)
    {
        if (opsEvent.Type is not (OpsEventTypes.Alert or OpsEventTypes.TradingState)) return false;
        _ = InvokeAsync(RefreshAsync);
        return false;
    }

    private async Task RefreshAsync()
    {
        _pending = await Commands.PendingResumesAsync();
        StateHasChanged();
    }

    private async Task RequestAsync()
    {
        _outcome = await Commands.RequestResumeAsync(_reason!.Trim(), _actor);
        if (_outcome.Status != ResumeStatus.Refused) _reason = null;
        _pending = await Commands.PendingResumesAsync();
    }

    private async Task RejectAsync(Guid requestId)
    {
        _outcome = await Commands.RejectResumeAsync(requestId, _actor);
        _pending = await Commands.PendingResumesAsync();
    }

    private async Task ApproveAsync(Guid requestId)
    {
        _outcome = await Commands.ApproveResumeAsync(requestId, _actor);
        _pending = await Commands.PendingResumesAsync();
    }
}
