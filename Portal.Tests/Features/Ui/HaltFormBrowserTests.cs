using System.Collections.Concurrent;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Ui;

/// <summary>Real Chromium on a phone: with the live connection cut, the banner leads to the plain halt form, and it halts.</summary>
public sealed class HaltFormBrowserTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartRealServerAsync();
        await _portal.WaitUntilReadyAsync();
        _portal.SetPrice("AAPL", 100m);
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task With_the_live_connection_cut_OnCall_follows_the_banner_to_the_plain_form_halts_from_a_phone_and_the_next_order_is_refused()
    {
        var orders = await _portal.ClientWithScopesAsync(Scopes.Orders);
        var page = await Browser.SignedInPageAsync(_portal, await _portal.CreateUserAsync(Roles.OnCall), Browser.Phone, "/halt");
        await Assertions.Expect(page.Locator("#halt-form-link")).ToHaveAttributeAsync("href", "/halt/form");
        // The circuit's websocket goes through Playwright: once cut, every reconnection is refused, as on a lost network.
        var blocked = 0;
        var sockets = new ConcurrentBag<IWebSocketRoute>();
        await page.RouteWebSocketAsync(new Regex("/_blazor"), ws =>
        {
            if (Volatile.Read(ref blocked) == 1)
            {
                _ = ws.CloseAsync();
                return;
            }
            sockets.Add(ws.ConnectToServer());
            sockets.Add(ws);
        });
        // And its fallbacks over plain HTTP (negotiation, server-sent events, long polling): with the websocket refused the
        // client falls back to them, and a reconnection through them took the banner away (seen on a loaded machine).
        await page.RouteAsync(new Regex("/_blazor"), route => Volatile.Read(ref blocked) == 1 ? route.AbortAsync() : route.ContinueAsync());
        await page.ReloadAsync();
        // Interactive (the circuit is up) once HALT arms; disarm it again.
        await Browser.ClickUntilVisibleAsync(page, "#halt-button", "#halt-confirm");
        await page.ClickAsync("#halt-cancel-arm");

        Interlocked.Exchange(ref blocked, 1);
        foreach (var socket in sockets) await socket.CloseAsync();

        var banner = page.Locator("#components-reconnect-modal");
        var link = page.Locator("#reconnect-halt-form");
        await Assertions.Expect(banner).ToBeVisibleAsync();
        await Assertions.Expect(link).ToBeVisibleAsync();
        var bannerBox = await banner.BoundingBoxAsync();
        Assert.True(bannerBox!.Width <= Browser.Phone.Width, $"the banner is {bannerBox.Width} px wide on a {Browser.Phone.Width} px screen");
        var linkBox = await link.BoundingBoxAsync();
        Assert.True(linkBox!.Height >= 44, $"the banner's link is {linkBox.Height} px high: too small for a thumb");
        await Browser.ScreenshotAsync(page, "halt-form-phone-banner");

        await link.ClickAsync();
        await page.WaitForURLAsync(url => new Uri(url).AbsolutePath == "/halt/form");
        await page.Locator("input[value=cancel]").CheckAsync();
        await page.Locator("#halt-form-reason").FillAsync("feed frozen, no live connection");
        await page.Locator("#halt-form-confirm").CheckAsync();
        await Browser.ScreenshotAsync(page, "halt-form-phone");
        await page.ClickAsync("#halt-form-submit");

        await Assertions.Expect(page.Locator("#halt-form-result")).ToContainTextAsync("Orders refused after");
        await Assertions.Expect(page.Locator(".trading-state-banner")).ToHaveAttributeAsync("data-state", "Halted");
        await Browser.ScreenshotAsync(page, "halt-form-phone-halted");
        var order = await orders.PostOrderAsync(OrderRequests.Market("after-form-halt", 1m));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, order.StatusCode);
        Assert.Equal("TradingHalted", (await order.JsonAsync()).GetProperty("reason").GetString());
        await page.Context.CloseAsync();
    }
}
