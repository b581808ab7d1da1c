using Microsoft.Playwright;
using Portal.Features.Identity;
using Portal.Tests.Features.Readiness;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Ui;

public sealed class ChecklistBrowserTests
{
    /// <summary>
    /// A RiskOfficer runs every drill from the page and watches the whole checklist turn green, after the activity a
    /// running system has (ticks, model observations and a drift check) that gives every seed series its first sample.
    /// </summary>
    [Fact]
    public async Task After_running_all_drills_from_the_page_every_item_is_green()
    {
        await using var portal = await PortalFactory.StartRealServerAsync(
            new Dictionary<string, string?> { ["Readiness:DocsPath"] = ReadinessTestKit.DocsWithAllRunbooks() });
        portal.SetPrice("AAPL", 100m);
        await SeedSeriesActivity.PostTicksAsync(portal);
        await SeedSeriesActivity.PostObservationsAndCheckDriftAsync(portal);
        var officer = await portal.CreateUserAsync(Roles.RiskOfficer);
        var page = await Browser.SignedInPageAsync(portal, officer, Browser.Desktop, "/checklist");
        await Assertions.Expect(page.Locator(".checklist-item")).ToHaveCountAsync(14);
        await Assertions.Expect(page.Locator("#deployment-phase")).ToHaveAttributeAsync("data-phase", "paper");

        await Browser.ClickUntilVisibleAsync(page, "#run-all-drills", "#drill-progress");

        var slow = new LocatorAssertionsToHaveAttributeOptions { Timeout = 90_000 };
        await Assertions.Expect(page.Locator("#drill-progress")).ToHaveAttributeAsync("data-state", "finished", slow);
        await Assertions.Expect(page.Locator("#drill-progress")).ToContainTextAsync("Finished 9 of 9", new() { Timeout = 90_000 });
        await Assertions.Expect(page.Locator("#run-all-drills")).ToBeEnabledAsync(new() { Timeout = 30_000 });
        foreach (var key in new[] { "kill-switch", "risk-limits", "bad-ticks", "audit", "network-cable", "million-order", "rate-limit", "kill-redis", "manual-stop",
                     "metrics", "doc-risk-limits", "doc-emergency", "doc-rollback", "doc-incident" })
            await Assertions.Expect(page.Locator($".checklist-item[data-item='{key}']")).ToHaveAttributeAsync("data-status", "green");
        var manualStop = page.Locator(".checklist-item[data-item='manual-stop']");
        await Assertions.Expect(manualStop.Locator(".item-figures")).ToContainTextAsync("refusedAfterMs");
        await Assertions.Expect(manualStop.Locator(".audit-link")).ToContainTextAsync("audit record #");
        await Browser.ScreenshotAsync(page, "checklist-desktop");

        var phone = await Browser.SignedInPageAsync(portal, officer, Browser.Phone, "/checklist");
        await Assertions.Expect(phone.Locator(".checklist-item[data-status='green']")).ToHaveCountAsync(14);
        var overflow = await phone.EvaluateAsync<bool>("() => document.documentElement.scrollWidth > window.innerWidth");
        Assert.False(overflow, "the checklist is wider than a 375 px phone");
        await Browser.ScreenshotAsync(phone, "checklist-phone");
        foreach (var p in new[] { page, phone }) await p.Context.CloseAsync();
    }
}
