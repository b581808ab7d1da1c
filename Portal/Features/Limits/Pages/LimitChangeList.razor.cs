using Microsoft.AspNetCore.Components;

namespace Portal.Features.Limits.Pages;

public sealed partial class LimitChangeList
{
    [Parameter, EditorRequired] public IReadOnlyList<LimitChange> Changes { get; set; } = [];
}
