using Microsoft.Playwright;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Ui;

public sealed class LimitsBrowserTests
{
    /// <summary>Scenario 2: one RiskOfficer lowers a limit, a second approves it, and an order the new limit forbids is refused.</summary>
    [Fact]
    public async Task A_limit_lowered_by_one_officer_and_approved_by_another_refuses_the_next_order_over_it()
    {
        await using var portal = await PortalFactory.StartRealServerAsync();
        portal.SetPrice("AAPL", 100m);
        var proposer = await portal.CreateUserAsync(Roles.RiskOfficer);
        var approver = await portal.CreateUserAsync(Roles.RiskOfficer);

        var proposerPage = await Browser.SignedInPageAsync(portal, proposer, Browser.Desktop, "/limits");
        await proposerPage.Locator("[id='limits.maxOrderValueUsd']").FillAsync("250");
        await proposerPage.Locator("[id='limits.maxOrderValueUsd']").PressAsync("Tab");
        await proposerPage.Locator("#limit-reason").FillAsync("Tighter while the new strategy runs in");
        await proposerPage.Locator("#limit-reason").PressAsync("Tab");
        await proposerPage.Locator("#propose-limits").ClickAsync();
        var ownProposal = proposerPage.Locator(".pending-limit-change");
        await Assertions.Expect(ownProposal).ToContainTextAsync("250.00");
        await Assertions.Expect(ownProposal.Locator(".approve-limit-change")).ToBeDisabledAsync();
        await Browser.ScreenshotAsync(proposerPage, "limits-desktop");

        var approverPage = await Browser.SignedInPageAsync(portal, approver, Browser.Desktop, "/limits");
        await approverPage.Locator(".pending-limit-change .approve-limit-change").ClickAsync();
        await Assertions.Expect(approverPage.Locator("[data-limit='MaxOrderValueUsd']")).ToHaveTextAsync("250.00");
        // The proposer's page follows live: the change is no longer pending there either.
        await Assertions.Expect(proposerPage.Locator("#no-pending-limits")).ToBeVisibleAsync();
        await Assertions.Expect(proposerPage.Locator("[data-limit='MaxOrderValueUsd']")).ToHaveTextAsync("250.00");

        var orders = await portal.ClientWithScopesAsync(Scopes.Orders);
        // A fresh tick: the browser steps may outlast the price's 60 s freshness, and a stale symbol refuses first (DataStale).
        portal.SetPrice("AAPL", 100m);
        var refused = await (await orders.PostOrderAsync(OrderRequests.Market("scenario-2", 3m))).JsonAsync();
        Assert.Equal("MaxOrderValue", refused.GetProperty("reason").GetString());

        var phonePage = await Browser.SignedInPageAsync(portal, approver, Browser.Phone, "/limits");
        await Assertions.Expect(phonePage.Locator("#limit-history")).ToContainTextAsync(proposer.Email);
        await Browser.ScreenshotAsync(phonePage, "limits-phone");
        foreach (var page in new[] { proposerPage, approverPage, phonePage }) await page.Context.CloseAsync();
    }
}
