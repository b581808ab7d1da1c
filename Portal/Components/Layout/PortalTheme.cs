using MudBlazor;

namespace Portal.Components.Layout;

public static class PortalTheme
{
    /// <summary>The colour of the app bar, also the web app manifest's theme colour.</summary>
    public const string Primary = "#1e3a5f";

    public static readonly MudTheme Theme = new()
    {
        PaletteLight = new PaletteLight { Primary = Primary, AppbarBackground = Primary },
        PaletteDark = new PaletteDark { Primary = "#7fa7d9", AppbarBackground = "#10243d" },
    };
}
