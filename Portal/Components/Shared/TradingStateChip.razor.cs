using Microsoft.AspNetCore.Components;
using Portal.Features.Halt;
using Portal.Features.Live;

namespace Portal.Components.Shared;

/// <summary>The trading state in a word, for the app bar: visible on every page.</summary>
public partial class TradingStateChip
{
    [Inject] private ITradingStatusSource Source { get; set; } = default!;

    private TradingStatus Status => Source.Current;

    protected override bool Handle(OpsEvent opsEvent) => TradingStatusColors.Concerns(opsEvent);
}
