using MudBlazor;
using Portal.Features.Halt;
using Portal.Features.Live;

namespace Portal.Components.Shared;

public static class TradingStatusColors
{
    public static Color Of(TradingStatus status) => ToneOf(status) switch
    {
        Tone.Trading => Color.Success,
        Tone.Restricted => Color.Warning,
        _ => Color.Error,
    };

    public static Severity SeverityOf(TradingStatus status) => ToneOf(status) switch
    {
        Tone.Trading => Severity.Success,
        Tone.Restricted => Severity.Warning,
        _ => Severity.Error,
    };

    private enum Tone { Trading, Restricted, Stopped }

    // Active with a strategy halted or reduce-only is not all green: some orders are refused (issue #19).
    private static Tone ToneOf(TradingStatus status) => status.Kind switch
    {
        TradingStatusKind.Active when status.StrategiesNotActive.Count > 0 => Tone.Restricted,
        TradingStatusKind.Active => Tone.Trading,
        TradingStatusKind.ReduceOnly or TradingStatusKind.SafeMode => Tone.Restricted,
        _ => Tone.Stopped,
    };

    /// <summary>Events that can change the trading status.</summary>
    public static bool Concerns(OpsEvent opsEvent) => opsEvent.Type is OpsEventTypes.TradingState or OpsEventTypes.SafeMode;
}
