using Microsoft.Playwright;
using Portal.Domain.Audit;
using Portal.Features.Audit;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Ui;

/// <summary>Real Chromium against Portal on loopback: Compliance exports a CSV from the audit page (issue 5, scenario 3), and every page's screenshots.</summary>
public sealed class AuditBrowserTests : IAsyncLifetime
{
    private static readonly ViewportSize Desktop = new() { Width = 1280, Height = 800 };

    private PortalFactory _portal = null!;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartRealServerAsync();
        await _portal.WaitUntilReadyAsync();
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task Compliance_exports_a_filtered_CSV_from_the_audit_page_and_the_file_holds_exactly_the_known_events()
    {
        var actor = "scenario-3-" + Guid.NewGuid().ToString("N")[..8];
        var trail = _portal.Get<AuditTrail>();
        var known = Enumerable.Range(1, 5)
            .Select(i => AuditEventDraft.Create(DateTimeOffset.UtcNow, actor, "test.known", $"known:{i}", new { index = i, note = i == 3 ? "a, \"quoted\" note" : "plain" }))
            .ToList();
        foreach (var draft in known) await trail.AppendAsync(draft);
        await trail.AppendAsync(AuditEventDraft.Create(DateTimeOffset.UtcNow, "someone-else", "test.known", "known:other", new { index = 0 }));

        var page = await Browser.SignedInPageAsync(_portal, await _portal.CreateUserAsync(Roles.Compliance), Desktop, "/audit");
        // The rows come from the interactive circuit (server data), so they also show it is connected; slow under load.
        await Assertions.Expect(page.Locator("tr.audit-row").First).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await page.FillAsync("input#filter-actor", actor);
        await page.PressAsync("input#filter-actor", "Tab");
        await Assertions.Expect(page.Locator("tr.audit-row")).ToHaveCountAsync(5, new() { Timeout = 15_000 });
        await Browser.ScreenshotAsync(page, "audit-filtered-desktop");

        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("#export-csv"));
        var file = Path.Combine(Browser.ScreenshotDirectory, "..", "scenario-3-" + download.SuggestedFilename);
        await download.SaveAsAsync(file);
        await Assertions.Expect(page.Locator("#export-status")).ToContainTextAsync("5 events");
        await Browser.ScreenshotAsync(page, "audit-exported-desktop");

        var lines = (await File.ReadAllTextAsync(file)).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("seq,time,actor,actor_name,type,subject,payload,prev_hash,hash", lines[0]);
        var rows = lines.Skip(1).ToList();
        Assert.Equal(5, rows.Count);
        for (var i = 0; i < 5; i++)
        {
            Assert.Contains($",{actor},,test.known,known:{i + 1},", rows[i], StringComparison.Ordinal);
            Assert.Contains($"\"\"index\"\": {i + 1}", rows[i], StringComparison.Ordinal);
        }
        Assert.Contains("a, \\\"\"quoted\\\"\" note", rows[2], StringComparison.Ordinal);
        var seqs = rows.Select(r => long.Parse(r[..r.IndexOf(',')], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(seqs.Order(), seqs);

        await page.Locator("tr.audit-row").Nth(1).ClickAsync();
        await Assertions.Expect(page.Locator(".audit-event .audit-actor")).ToHaveTextAsync(actor);
        await Assertions.Expect(page.Locator(".audit-this-hash")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^[0-9a-f]{64}$"));
        await Browser.ScreenshotAsync(page, "audit-detail-desktop");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Every_page_renders_on_a_desktop_and_a_phone()
    {
        var user = await _portal.CreateUserAsync(Roles.RiskOfficer, Roles.OnCall, Roles.Compliance, Roles.Admin);
        foreach (var (viewport, size) in new[] { (Desktop, "desktop"), (Browser.Phone, "phone") })
        {
            var anonymous = await Browser.NewPageAsync(_portal.RealAddress!, viewport);
            await anonymous.GotoAsync(IdentitySetup.LoginPath);
            await Assertions.Expect(anonymous.Locator("#email")).ToBeVisibleAsync();
            await Browser.ScreenshotAsync(anonymous, $"all-login-{size}");
            await anonymous.Context.CloseAsync();

            var page = await Browser.SignedInPageAsync(_portal, user, viewport, "/");
            foreach (var (path, name, ready, _) in PortalPages.SignedIn)
            {
                await page.GotoAsync(path);
                await Assertions.Expect(page.Locator(ready).First).ToBeVisibleAsync(new() { Timeout = 30_000 });
                // One h1 per page, so a screen reader's first heading names the page.
                await Assertions.Expect(page.Locator("h1")).ToHaveCountAsync(1);
                await Browser.ScreenshotAsync(page, $"all-{name}-{size}");
            }
            await page.GotoAsync("/admin");
            await Assertions.Expect(page.Locator("#users .user-email").First).ToBeVisibleAsync(new() { Timeout = 30_000 });
            await Browser.ClickUntilVisibleAsync(page, ".mud-tab >> text=API keys", "#api-keys");
            await Browser.ScreenshotAsync(page, $"all-admin-keys-{size}");
            await page.Context.CloseAsync();
        }
    }
}
