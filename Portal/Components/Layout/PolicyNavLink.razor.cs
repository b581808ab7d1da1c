using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Routing;

namespace Portal.Components.Layout;

/// <summary>A navigation link shown only to people the linked page's policy admits.</summary>
public partial class PolicyNavLink
{
    [Parameter, EditorRequired] public string Href { get; set; } = default!;
    [Parameter, EditorRequired] public string Policy { get; set; } = default!;
    [Parameter] public string? Icon { get; set; }
    [Parameter] public NavLinkMatch Match { get; set; } = NavLinkMatch.Prefix;
    /// <summary>"_blank" for pages outside the Blazor app (the API reference), which the interactive router cannot show.</summary>
    [Parameter] public string? Target { get; set; }
    [Parameter] public RenderFragment? ChildContent { get; set; }
}
