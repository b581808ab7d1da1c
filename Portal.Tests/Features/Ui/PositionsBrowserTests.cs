using Microsoft.Playwright;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Ui;

public sealed class PositionsBrowserTests
{
    [Fact]
    public async Task On_call_sees_positions_cancels_an_open_order_and_sees_new_decisions_live()
    {
        await using var portal = await PortalFactory.StartRealServerAsync();
        portal.SetPrice("AAPL", 100m);
        var orders = await portal.ClientWithScopesAsync(Scopes.Orders);
        await orders.PostOrderAsync(OrderRequests.Market("bought", 10m));
        await orders.PostOrderAsync(OrderRequests.Limit("resting", 5m, 97m));
        var onCall = await portal.CreateUserAsync(Roles.OnCall);

        var page = await Browser.SignedInPageAsync(portal, onCall, Browser.Desktop, "/positions");
        await Assertions.Expect(page.Locator("#positions-table")).ToContainTextAsync("AAPL");
        // Money in dollars with cents, times with their zone.
        await Assertions.Expect(page.Locator("#equity")).ToContainTextAsync(new System.Text.RegularExpressions.Regex(@"Equity \$[\d,]+\.\d{2} · as of \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC"));
        await Assertions.Expect(page.Locator("#positions-table")).ToContainTextAsync(new System.Text.RegularExpressions.Regex(@"\$[\d,]+\.\d{2}"));
        await Assertions.Expect(page.Locator("#open-orders")).ToContainTextAsync("resting");
        await Assertions.Expect(page.Locator("#order-blotter")).ToContainTextAsync("bought");

        await orders.PostOrderAsync(OrderRequests.Market("too-big", 1_000m));
        await Assertions.Expect(page.Locator("#order-blotter")).ToContainTextAsync("too-big");
        await Assertions.Expect(page.Locator("#order-blotter")).ToContainTextAsync("rejected");
        await Browser.ScreenshotAsync(page, "positions-desktop");

        await page.Locator("#open-orders .cancel-order").First.ClickAsync();
        await Assertions.Expect(page.Locator("#open-orders")).Not.ToContainTextAsync("resting");

        var phone = await Browser.SignedInPageAsync(portal, onCall, Browser.Phone, "/positions");
        await Assertions.Expect(phone.Locator("#order-blotter")).ToContainTextAsync("too-big");
        await Browser.ScreenshotAsync(phone, "positions-phone");
        foreach (var p in new[] { page, phone }) await p.Context.CloseAsync();
    }
}
