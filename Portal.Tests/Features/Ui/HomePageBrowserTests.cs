using Microsoft.Playwright;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Ui;

public sealed class HomePageBrowserTests
{
    [Fact]
    public async Task The_home_page_renders_in_a_real_browser_on_desktop_and_phone()
    {
        await using var portal = await PortalFactory.StartRealServerAsync();
        foreach (var (viewport, name) in new[] { (Browser.Desktop, "home-desktop"), (Browser.Phone, "home-phone") })
        {
            var page = await Browser.NewPageAsync(portal.RealAddress!, viewport);
            await page.GotoAsync("/");
            await Assertions.Expect(page.Locator("h4")).ToContainTextAsync("Portal");
            await Browser.ScreenshotAsync(page, name);
            await page.Context.CloseAsync();
        }
    }
}
