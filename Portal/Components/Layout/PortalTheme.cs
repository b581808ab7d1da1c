using MudBlazor;

namespace Portal.Components.Layout;

/// <summary>
/// Portal's colours. MudBlazor's default status colours fail WCAG 2.2 AA with their white labels (success chips were
/// 2.24:1, errors 3.68:1): light mode darkens them under white labels, dark mode keeps them bright under black labels.
/// Every status colour reaches 4.5:1 against its label and against the page (PortalThemeTests).
/// </summary>
public static class PortalTheme
{
    /// <summary>The colour of the app bar, also the web app manifest's theme colour.</summary>
    public const string Primary = "#1e3a5f";

    private const string White = "#ffffff";
    private const string Black = "#000000";

    public static readonly MudTheme Theme = new()
    {
        PaletteLight = new PaletteLight
        {
            Primary = Primary, AppbarBackground = Primary,
            Success = "#2e7d32", SuccessContrastText = White,
            Error = "#c62828", ErrorContrastText = White,
            Warning = "#b45309", WarningContrastText = White,
            Info = "#1565c0", InfoContrastText = White,
        },
        PaletteDark = new PaletteDark
        {
            Primary = "#7fa7d9", PrimaryContrastText = Black, AppbarBackground = "#10243d",
            // MudBlazor's dark secondary text (white at 50%) is 4.3:1 on its surface: helper text and labels fell short.
            TextSecondary = "rgba(255,255,255,0.75)",
            Success = "#00c853", SuccessContrastText = Black,
            Error = "#ff8a80", ErrorContrastText = Black,
            Warning = "#ff9800", WarningContrastText = Black,
            Info = "#64b5f6", InfoContrastText = Black,
            // An alert's text takes the darkened status colour, which is unreadable on a dark card: lighten instead.
            SuccessDarken = "#69f0ae", ErrorDarken = "#ffab91", WarningDarken = "#ffb74d", InfoDarken = "#90caf9",
        },
    };
}
