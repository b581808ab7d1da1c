using Microsoft.Playwright;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Ui;

public sealed class LimitsBrowserTests
{
    [Fact]
    public async Task The_limits_page_shows_the_limit_the_phase_enforces_beside_the_approved_one_and_what_usage_measures()
    {
        await using var portal = await PortalFactory.StartRealServerAsync();
        portal.SetPrice("AAPL", 100m);
        await Portal.Tests.Features.Audit.AuditTestKit.ExecAsync(portal.OwnerConnectionString, "update deployment_phase set phase = 'small_live', version = version + 1 where id = 1");
        await portal.Get<Portal.Features.Readiness.DeploymentPhaseStore>().LoadAsync(CancellationToken.None);

        var page = await Browser.SignedInPageAsync(portal, await portal.CreateUserAsync(Roles.RiskOfficer), Browser.Desktop, "/limits");

        await Assertions.Expect(page.Locator("#limits-table")).ToContainTextAsync("Enforced now (Small Live)");
        await Assertions.Expect(page.Locator("[data-limit='MaxDailyLossUsd']")).ToHaveTextAsync("$2,000.00");
        await Assertions.Expect(page.Locator("[data-enforced='MaxDailyLossUsd']")).ToHaveTextAsync("$50.00 (phase cap)");
        await Assertions.Expect(page.Locator("#limits-table")).ToContainTextAsync("loss since the day's start: $0.00 of $50.00");
        await page.Context.CloseAsync();
    }


    [Fact]
    public async Task Without_approval_a_limit_changed_on_the_page_is_in_force_at_once()
    {
        await using var portal = await PortalFactory.StartRealServerAsync(new Dictionary<string, string?> { [Portal.Features.Limits.LimitsApi.RequireApprovalKey] = "false" });
        var page = await Browser.SignedInPageAsync(portal, await portal.CreateUserAsync(Roles.RiskOfficer), Browser.Desktop, "/limits");

        await page.Locator("[id='limits.maxOrderValueUsd']").FillAsync("250");
        await page.Locator("[id='limits.maxOrderValueUsd']").PressAsync("Tab");
        await page.Locator("#limit-reason").FillAsync("Single-person desk: tighter for the new strategy");
        await page.Locator("#limit-reason").PressAsync("Tab");
        await Assertions.Expect(page.Locator("#propose-limits")).ToContainTextAsync("Apply now");
        await page.Locator("#propose-limits").ClickAsync();

        await Assertions.Expect(page.Locator("[data-limit='MaxOrderValueUsd']")).ToHaveTextAsync("$250.00");
        await Assertions.Expect(page.Locator("#no-pending-limits")).ToBeVisibleAsync();
        Assert.Equal(250m, portal.Get<Portal.Features.Limits.LimitStore>().Current!.Limits.MaxOrderValueUsd);
        await page.Context.CloseAsync();
    }

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
        await Assertions.Expect(approverPage.Locator("[data-limit='MaxOrderValueUsd']")).ToHaveTextAsync("$250.00");
        // The proposer's page follows live: the change is no longer pending there either.
        await Assertions.Expect(proposerPage.Locator("#no-pending-limits")).ToBeVisibleAsync();
        await Assertions.Expect(proposerPage.Locator("[data-limit='MaxOrderValueUsd']")).ToHaveTextAsync("$250.00");

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
