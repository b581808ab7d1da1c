using Microsoft.AspNetCore.Components;
using Portal.Features.Audit;
using Portal.Features.Halt;
using Portal.Features.Live;

namespace Portal.Components.Shared;

/// <summary>
/// Active / ReduceOnly / Halted / Safe mode with its cause, the reason, who (a person's email, a key's name) and since
/// when, each strategy not active, and how many resume requests wait for a second RiskOfficer; live.
/// </summary>
public partial class TradingStateBanner
{
    [Inject] private ITradingStatusSource Source { get; set; } = default!;
    [Inject] private IActorNames ActorNames { get; set; } = default!;
    [Inject] private IHaltCommands Commands { get; set; } = default!;
    [Inject] private ILogger<TradingStateBanner> Logger { get; set; } = default!;

    private TradingStatus Status => Source.Current;

    private IReadOnlyDictionary<string, string> _names = new Dictionary<string, string>();
    private int _pendingResumes;

    protected override Task OnInitializedAsync() => LookUpAsync();

    // A change of state may bring a new "by"; resume requests, approvals and rejections raise alerts.
    protected override bool Handle(OpsEvent opsEvent)
    {
        if (TradingStatusColors.Concerns(opsEvent) || opsEvent.Type == OpsEventTypes.Alert)
            _ = InvokeAsync(async () => { await LookUpAsync(); StateHasChanged(); });
        return TradingStatusColors.Concerns(opsEvent);
    }

    /// <summary>
    /// The names behind the ids and the pending resume count. Both need Postgres, which may be the very thing that is
    /// down: then the banner keeps showing the state with the ids as recorded and the last count it had.
    /// </summary>
    private async Task LookUpAsync()
    {
        try
        {
            var status = Status;
            _names = await ActorNames.NamesAsync(status.StrategiesNotActive.Select(e => e.ChangedBy).Append(status.ChangedBy), CancellationToken.None);
            _pendingResumes = (await Commands.PendingResumesAsync()).Count;
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
        {
            Logger.LogWarning(e, "The trading state banner could not look up names or pending resumes.");
        }
    }

    private string Who(string actor) => ActorText.Of(actor, _names);

    /// <summary>The audit page filtered to the scope's changes of state.</summary>
    private static string AuditLink(string scope) => $"/audit?subject={Uri.EscapeDataString(scope)}";
}
