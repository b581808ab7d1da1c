using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;

namespace Portal.Components.Layout;

/// <summary>App bar (product, trading state, theme, sign-in), a drawer that is permanent on desktops and slides in on phones, and the page.</summary>
public partial class MainLayout
{
    private const string DarkModeKey = "portal.darkMode";

    [Inject] private IJSRuntime Js { get; set; } = default!;

    private bool _drawerOpen = true;
    private bool _darkMode;

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (!firstRender) return;
        // The choice is kept per browser; until it is read (after the first render) the light theme shows.
        _darkMode = await Js.InvokeAsync<string?>("localStorage.getItem", DarkModeKey) == "true";
        if (_darkMode) StateHasChanged();
    }

    private void ToggleDrawer() => _drawerOpen = !_drawerOpen;

    private async Task ToggleDarkModeAsync()
    {
        _darkMode = !_darkMode;
        await Js.InvokeVoidAsync("localStorage.setItem", DarkModeKey, _darkMode ? "true" : "false");
    }
}
