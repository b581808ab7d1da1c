using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace Portal.Features.Dashboard;

/// <summary>A number against its limit: the value, a bar of the share used, and the limit.</summary>
public sealed partial class LimitGauge
{
    [Parameter, EditorRequired] public string Title { get; set; } = default!;
    [Parameter, EditorRequired] public string Value { get; set; } = default!;
    [Parameter, EditorRequired] public string Limit { get; set; } = default!;
    /// <summary>Used share of the limit, 0..1 (more when beyond it).</summary>
    [Parameter, EditorRequired] public decimal Used { get; set; }

    private double Percent => (double)Math.Clamp(Used * 100m, 0m, 100m);

    private Color BarColor => Used switch
    {
        >= 1m => Color.Error,
        >= 0.8m => Color.Warning,
        _ => Color.Success,
    };
}
