using Microsoft.AspNetCore.Components;
using Portal.Features.Halt;
using Portal.Features.Live;

namespace Portal.Components.Shared;

/// <summary>Active / ReduceOnly / Halted / Safe mode with its cause, the reason, who and since when, and each strategy not active; live.</summary>
public partial class TradingStateBanner
{
    [Inject] private ITradingStatusSource Source { get; set; } = default!;

    private TradingStatus Status => Source.Current;

    protected override bool Handle(OpsEvent opsEvent) => TradingStatusColors.Concerns(opsEvent);

    /// <summary>The audit page filtered to the scope's changes of state.</summary>
    private static string AuditLink(string scope) => $"/audit?subject={Uri.EscapeDataString(scope)}";
}
