using MudBlazor;
using Portal.Features.Halt;
using Portal.Features.Live;

namespace Portal.Components.Shared;

public static class TradingStatusColors
{
    public static Color Of(TradingStatusKind kind) => kind switch
    {
        TradingStatusKind.Active => Color.Success,
        TradingStatusKind.ReduceOnly => Color.Warning,
        TradingStatusKind.SafeMode => Color.Warning,
        _ => Color.Error,
    };

    public static Severity SeverityOf(TradingStatusKind kind) => kind switch
    {
        TradingStatusKind.Active => Severity.Success,
        TradingStatusKind.Halted => Severity.Error,
        _ => Severity.Warning,
    };

    /// <summary>Events that can change the trading status.</summary>
    public static bool Concerns(OpsEvent opsEvent) => opsEvent.Type is OpsEventTypes.TradingState or OpsEventTypes.SafeMode;
}
