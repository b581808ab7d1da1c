using MudBlazor;
using Portal.Features.Halt;
using Portal.Features.Live;

namespace Portal.Components.Shared;

public static class TradingStatusColors
{
    // Active with a strategy halted or reduce-only is not all green: some orders are refused (issue #19).
    public static Color Of(TradingStatus status) => status.Kind switch
    {
        TradingStatusKind.Active when status.StrategiesNotActive.Count > 0 => Color.Warning,
        TradingStatusKind.Active => Color.Success,
        TradingStatusKind.ReduceOnly => Color.Warning,
        TradingStatusKind.SafeMode => Color.Warning,
        _ => Color.Error,
    };

    public static Severity SeverityOf(TradingStatus status) => status.Kind switch
    {
        TradingStatusKind.Active when status.StrategiesNotActive.Count > 0 => Severity.Warning,
        TradingStatusKind.Active => Severity.Success,
        TradingStatusKind.Halted => Severity.Error,
        _ => Severity.Warning,
    };

    /// <summary>Events that can change the trading status.</summary>
    public static bool Concerns(OpsEvent opsEvent) => opsEvent.Type is OpsEventTypes.TradingState or OpsEventTypes.SafeMode;
}
