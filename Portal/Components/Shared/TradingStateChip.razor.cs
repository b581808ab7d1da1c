using Microsoft.AspNetCore.Components;
using MudBlazor;
using Portal.Features.Halt;
using Portal.Features.Live;

namespace Portal.Components.Shared;

/// <summary>
/// The trading state in a word, for the app bar: visible on every page, and a button that opens the full state in a
/// panel, so a strategy halt or a safe-mode cause is one tap away wherever the reader is (issue #19).
/// </summary>
public partial class TradingStateChip
{
    private static readonly DialogOptions PanelOptions = new()
    {
        MaxWidth = MaxWidth.Small, FullWidth = true, CloseButton = true, CloseOnEscapeKey = true, Position = DialogPosition.TopCenter,
    };

    [Inject] private ITradingStatusSource Source { get; set; } = default!;

    private bool _open;

    private TradingStatus Status => Source.Current;

    private string Label => Status.Title + (Status.StrategiesSummary is { } strategies ? $" · {strategies}" : "");

    private void Open() => _open = true;

    private void Close() => _open = false;

    protected override bool Handle(OpsEvent opsEvent) => TradingStatusColors.Concerns(opsEvent);
}
