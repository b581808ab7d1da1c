using System.Text.Json;
using Microsoft.AspNetCore.Components;
using Portal.Features.Live;

namespace Portal.Features.Halt.Pages;

/// <summary>Phone-first halt: the state, the HALT control, then the halt's live progress and how fast orders were refused.</summary>
public sealed partial class HaltPage
{
    [Inject] private ITradingStatusSource Status { get; set; } = default!;

    private HaltResult? _progress;

    protected override bool Handle(OpsEvent opsEvent)
    {
        if (opsEvent.Type != OpsEventTypes.HaltProgress) return opsEvent.Type == OpsEventTypes.TradingState;
        var progress = opsEvent.Data.Deserialize<HaltResult>(OpsEventBus.Json);
        // Only the progress of the halt underway (or the latest one): never an older halt's report.
        if (progress is null || (_progress is { } shown && progress.HaltedAt < shown.HaltedAt)) return false;
        _progress = progress;
        return true;
    }

    private void OnHalted(HaltResult result) => _progress = result;
}
