using Microsoft.Playwright;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.ApiDocs;

/// <summary>The reference page in real Chromium: it must load its script and the OpenAPI document with the person's cookie.</summary>
public sealed class ApiReferenceBrowserTests
{
    [Fact]
    public async Task A_signed_in_person_browses_the_machine_API_reference()
    {
        await using var portal = await PortalFactory.StartRealServerAsync();
        var user = await portal.CreateUserAsync(Roles.Compliance);
        var page = await Browser.NewPageAsync(portal.RealAddress!, Browser.Desktop);

        await page.GotoAsync("/api-reference");
        await page.WaitForURLAsync(url => url.Contains(IdentitySetup.LoginPath, StringComparison.Ordinal));
        await page.FillAsync("#email", user.Email);
        await page.FillAsync("#password", user.Password);
        await page.ClickAsync("button[type=submit]");

        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "/api/orders HTTP Method: POST" })).ToBeVisibleAsync(new() { Timeout = 30_000 });
        foreach (var tag in new[] { "Limits", "Emergency", "Audit" })
            await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = tag, Exact = true })).ToBeVisibleAsync();
        await Browser.ScreenshotAsync(page, "api-reference");
    }
}
