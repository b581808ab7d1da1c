using MudBlazor;
using MudBlazor.Utilities;
using Portal.Components.Layout;

namespace Portal.Tests.Components.Layout;

/// <summary>WCAG 2.2 AA: 4.5:1 for text. Status colours are chip and alert backgrounds under their label, and text on the page.</summary>
public sealed class PortalThemeTests
{
    public static TheoryData<string> Palettes => ["light", "dark"];

    private static Palette PaletteOf(string name) => name == "light" ? PortalTheme.Theme.PaletteLight : PortalTheme.Theme.PaletteDark;

    [Theory]
    [MemberData(nameof(Palettes))]
    public void Every_status_colour_is_readable_under_its_label_and_on_the_page(string name)
    {
        var palette = PaletteOf(name);
        var pairs = new (string What, MudColor Colour, MudColor Label)[]
        {
            ("Success", palette.Success, palette.SuccessContrastText),
            ("Error", palette.Error, palette.ErrorContrastText),
            ("Warning", palette.Warning, palette.WarningContrastText),
            ("Info", palette.Info, palette.InfoContrastText),
        };
        foreach (var (what, colour, label) in pairs)
        {
            Assert.True(Contrast(colour, label) >= 4.5, $"{name} {what} {colour} under {label}: {Contrast(colour, label):F2}:1");
            Assert.True(Contrast(colour, palette.Background) >= 4.5, $"{name} {what} {colour} on the page {palette.Background}: {Contrast(colour, palette.Background):F2}:1");
            Assert.True(Contrast(colour, palette.Surface) >= 4.5, $"{name} {what} {colour} on a card {palette.Surface}: {Contrast(colour, palette.Surface):F2}:1");
        }
    }

    [Theory]
    [MemberData(nameof(Palettes))]
    public void An_alert_s_text_is_readable_on_its_tinted_card(string name)
    {
        // MudAlert's default variant writes in the darkened status colour on the status colour at hover opacity over the card.
        var palette = PaletteOf(name);
        var alerts = new (string What, MudColor Text, MudColor Tint)[]
        {
            ("Success", palette.SuccessDarken, palette.Success),
            ("Error", palette.ErrorDarken, palette.Error),
            ("Warning", palette.WarningDarken, palette.Warning),
            ("Info", palette.InfoDarken, palette.Info),
        };
        foreach (var (what, text, tint) in alerts)
        {
            var background = Blend(tint, palette.Surface, palette.HoverOpacity);
            Assert.True(Contrast(text, background) >= 4.5, $"{name} {what} alert {text} on {background}: {Contrast(text, background):F2}:1");
        }
    }

    [Fact]
    public void The_contrast_formula_gives_the_published_extremes()
    {
        Assert.Equal(21.0, Contrast(new MudColor("#000000"), new MudColor("#ffffff")), 2);
        Assert.Equal(1.0, Contrast(new MudColor("#777777"), new MudColor("#777777")), 2);
        // MudBlazor's default success green under white, as measured in issue #19.
        Assert.Equal(2.24, Contrast(new MudColor("#00c853"), new MudColor("#ffffff")), 2);
    }

    private static MudColor Blend(MudColor over, MudColor under, double alpha)
    {
        byte Mix(byte o, byte u) => (byte)Math.Round(o * alpha + u * (1 - alpha));
        return new MudColor(Mix(over.R, under.R), Mix(over.G, under.G), Mix(over.B, under.B), (byte)255);
    }

    private static double Contrast(MudColor a, MudColor b)
    {
        double la = Luminance(a), lb = Luminance(b);
        return (Math.Max(la, lb) + 0.05) / (Math.Min(la, lb) + 0.05);
    }

    private static double Luminance(MudColor c)
    {
        static double Channel(byte value)
        {
            var s = value / 255.0;
            return s <= 0.04045 ? s / 12.92 : Math.Pow((s + 0.055) / 1.055, 2.4);
        }
        return 0.2126 * Channel(c.R) + 0.7152 * Channel(c.G) + 0.0722 * Channel(c.B);
    }
}
