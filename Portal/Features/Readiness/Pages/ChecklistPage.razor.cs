using System.Text.Json;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.Extensions.Options;
using MudBlazor;
using Portal.Features.Halt;
using Portal.Features.Identity;
using Portal.Features.Live;

namespace Portal.Features.Readiness.Pages;

/// <summary>
/// The seed's go-live checklist, every item computed from stored evidence. Drill progress and phase changes arrive as
/// live events (from whichever instance runs them); the checklist is re-read when a drill finishes.
/// </summary>
public sealed partial class ChecklistPage : IDisposable
{
    private ChecklistView? _checklist;
    private IReadOnlyList<PhaseChangeRequest> _pending = [];
    private DrillProgress? _progress;
    // The signed-in RiskOfficer (actor id), who may run drills and request or approve phase changes; null for everyone else.
    private string? _runner;
    private bool _busy;
    private DeploymentPhase _target = DeploymentPhase.Paper;
    private string? _reason;

    [Inject] private Checklist Checklist { get; set; } = null!;
    [Inject] private DrillRunner Runner { get; set; } = null!;
    [Inject] private PhaseChanges PhaseChanges { get; set; } = null!;
    [Inject] private OpsEventBus Live { get; set; } = null!;
    [Inject] private IOptions<ReadinessOptions> ReadinessOptions { get; set; } = null!;
    [Inject] private ISnackbar Snackbar { get; set; } = null!;
    [Inject] private AuthenticationStateProvider Authentication { get; set; } = null!;
    [Inject] private IAuthorizationService Authorization { get; set; } = null!;

    private ReadinessOptions Options => ReadinessOptions.Value;

    protected override void OnInitialized() => Live.Received += OnLiveEvent;

    protected override async Task OnInitializedAsync()
    {
        var user = (await Authentication.GetAuthenticationStateAsync()).User;
        if ((await Authorization.AuthorizeAsync(user, Policies.RiskOfficer)).Succeeded) _runner = PortalActor.Of(user);
        _busy = Runner.IsRunning;
        await LoadAsync();
    }

    public void Dispose() => Live.Received -= OnLiveEvent;

    private void OnLiveEvent(OpsEvent opsEvent)
    {
        if (opsEvent.Type == DrillRunner.ProgressEvent)
        {
            var progress = opsEvent.Data.Deserialize<DrillProgress>(OpsEventBus.Json);
            _ = InvokeAsync(async () =>
            {
                _progress = progress;
                if (progress?.State == "finished") await LoadAsync();
                StateHasChanged();
            });
        }
        else if (opsEvent.Type == PhaseChanges.PhaseEvent)
        {
            _ = InvokeAsync(async () =>
            {
                await LoadAsync();
                StateHasChanged();
            });
        }
    }

    private async Task LoadAsync()
    {
        _checklist = await Checklist.ComputeAsync(CancellationToken.None);
        _pending = await PhaseChanges.PendingAsync(CancellationToken.None);
    }

    private Task RunAllAsync() => RunAsync(async actor => await Runner.TryRunAllAsync(actor, CancellationToken.None) is not null);

    private Task RunOneAsync(string drill) => RunAsync(async actor => await Runner.TryRunAsync(drill, actor, CancellationToken.None) is not null);

    /// <summary>Drills run to the end whatever happens to this circuit (they clear the faults they inject); progress comes as live events.</summary>
    private async Task RunAsync(Func<string, Task<bool>> run)
    {
        if (_runner is not { } actor) return;
        _busy = true;
        try
        {
            if (!await Task.Run(() => run(actor))) Snackbar.Add("A drill is already running on this instance.", Severity.Warning);
        }
        finally
        {
            _busy = false;
        }
        await LoadAsync();
    }

    private async Task RequestPhaseAsync()
    {
        if (_runner is not { } actor || string.IsNullOrWhiteSpace(_reason)) return;
        Report(await PhaseChanges.RequestAsync(_target, _reason.Trim(), actor, CancellationToken.None));
        _reason = null;
        await LoadAsync();
    }

    private async Task ApproveAsync(PhaseChangeRequest request)
    {
        if (_runner is not { } actor) return;
        Report(await PhaseChanges.ApproveAsync(request.Id, actor, CancellationToken.None));
        await LoadAsync();
    }

    private void Report(PhaseChangeOutcome outcome) => Snackbar.Add(outcome.Detail, outcome.Status switch
    {
        PhaseChangeStatus.Changed => Severity.Success,
        PhaseChangeStatus.PendingApproval => Severity.Info,
        _ => Severity.Error,
    });

    private static Color StatusColor(ItemStatus status) => status switch
    {
        ItemStatus.Green => Color.Success,
        ItemStatus.Amber => Color.Warning,
        _ => Color.Error,
    };
}
