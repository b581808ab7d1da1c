using Microsoft.Playwright;
using Portal.Domain.Trading;
using Portal.Features.Halt;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Ui;

/// <summary>
/// The installable halt app (issue 19, item 4) in real Chromium on a phone: Portal's service worker registers and takes
/// over the page; with the network gone, opening /halt shows the offline page, which says that nothing is sent; a halt
/// form posted while offline is not answered by the worker (the browser's own error) and is not sent later either; and
/// the only thing cached is the offline page.
/// </summary>
public sealed class OfflineBrowserTests : IAsyncLifetime
{
    private const string OfflineHeading = "No connection to Portal — nothing you press here is sent.";

    private PortalFactory _portal = null!;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartRealServerAsync();
        await _portal.WaitUntilReadyAsync();
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task Offline_the_halt_page_is_the_offline_page_and_a_posted_halt_is_neither_answered_nor_sent_later()
    {
        var page = await Browser.SignedInPageAsync(_portal, await _portal.CreateUserAsync(Roles.OnCall), Browser.Phone, "/halt/form", isStatic: true);
        // Browsers refuse to register a worker script served as anything but JavaScript.
        var script = await page.APIRequest.GetAsync("/halt-sw.js");
        Assert.StartsWith("text/javascript", script.Headers["content-type"], StringComparison.Ordinal);
        var scope = await page.EvaluateAsync<string>("async () => (await navigator.serviceWorker.ready).scope");
        Assert.Equal(_portal.RealAddress!.ToString(), scope);
        // Controlled once the worker has activated and claimed the page: from then on its page loads go through it.
        await page.WaitForFunctionAsync("() => navigator.serviceWorker.controller?.state === 'activated'");

        await page.Locator("input[name=\"Input.Mode\"][value=halt]").CheckAsync();
        await page.Locator("#halt-form-reason").FillAsync("posted while offline");
        await page.Locator("#halt-form-confirm").CheckAsync();
        await page.Context.SetOfflineAsync(true);
        await page.ClickAsync("#halt-form-submit");
        // The browser's own network error, not the worker's offline page and not a stored reply.
        // Committed is enough: on a loaded machine the error page's load event can take longer than the default wait.
        await page.WaitForURLAsync(url => url.StartsWith("chrome-error://", StringComparison.Ordinal), new() { WaitUntil = WaitUntilState.Commit, Timeout = 30_000 });
        await Assertions.Expect(page.Locator("#offline-title")).ToHaveCountAsync(0);

        await page.GotoAsync("/halt");
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync(OfflineHeading);
        await Assertions.Expect(page.Locator("#offline-state")).ToHaveTextAsync("Trading state unknown from this device.");
        Assert.Equal("/halt", new Uri(page.Url).AbsolutePath);
        var violations = await AccessibilityBrowserTests.ScanAsync(page, "offline", "oncall", "375");
        Assert.True(violations.Count == 0, $"{violations.Count} serious or critical axe violations:\n" + string.Join("\n", violations));

        // Retry reloads /halt: back online that is Portal's halt page again.
        await page.Context.SetOfflineAsync(false);
        await page.ClickAsync("#offline-retry");
        await Assertions.Expect(page.Locator("#halt-button")).ToBeVisibleAsync(new() { Timeout = 30_000 });

        var cached = await page.EvaluateAsync<string[]>(
            """
            async () => {
              const urls = [];
              for (const name of await caches.keys()) for (const request of await (await caches.open(name)).keys()) urls.push(request.url);
              return urls;
            }
            """);
        Assert.Equal([new Uri(_portal.RealAddress!, "/offline.html").ToString()], cached);
        Assert.Equal(TradingMode.Active, _portal.Get<TradingStateStore>().Get(TradingScopes.Global).Mode);
        await page.Context.CloseAsync();
    }
}
