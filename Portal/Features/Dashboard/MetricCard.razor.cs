using Microsoft.AspNetCore.Components;

namespace Portal.Features.Dashboard;

/// <summary>One number with its title and a caption.</summary>
public sealed partial class MetricCard
{
    [Parameter, EditorRequired] public string Title { get; set; } = default!;
    [Parameter, EditorRequired] public string Value { get; set; } = default!;
    [Parameter] public string? Caption { get; set; }
}
