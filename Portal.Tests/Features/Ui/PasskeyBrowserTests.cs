using Microsoft.Playwright;
using Portal.Features.Identity;
using Portal.Tests.Features.Audit;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Ui;

/// <summary>
/// Passkeys end to end in real Chromium with a virtual authenticator (DevTools' WebAuthn domain): an OnCall person is
/// pressed to add one (on the dashboard, not on the halt page), adds and names it on the account page, signs out, and signs in again with the passkey alone,
/// remembered on this device, landing signed in as themselves. The server is reached as localhost, a secure context
/// whose name can be a relying party id.
/// </summary>
public sealed class PasskeyBrowserTests : IAsyncLifetime
{
    private readonly RecordingSecurityEventSink _events = new();
    private PortalFactory _portal = null!;

    public async Task InitializeAsync() =>
        _portal = await PortalFactory.StartRealServerAsync(configure: builder => RecordingSecurityEventSink.Install(builder, _events));

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task An_on_call_person_adds_a_passkey_signs_out_and_signs_in_with_it_alone()
    {
        var user = await _portal.CreateUserAsync(Roles.OnCall);
        var page = await Browser.SignedInPageAsync(_portal, user, Browser.Desktop, "/", baseAddress: Browser.Localhost(_portal));
        await Browser.AddVirtualAuthenticatorAsync(page);

        // Without a passkey an OnCall person is pressed to add one, on the dashboard and on the account page.
        await Assertions.Expect(page.Locator("#passkey-prompt")).ToBeVisibleAsync();
        // Never on the halt page: nothing may push HALT down.
        await page.GotoAsync("/halt");
        await Assertions.Expect(page.Locator("#halt-button")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#passkey-prompt")).ToHaveCountAsync(0);
        await page.GotoAsync(IdentitySetup.ManagePath);
        await Assertions.Expect(page.Locator("#passkey-offer")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#no-passkeys")).ToBeVisibleAsync();

        await page.Locator("#passkey-name").FillAsync("test laptop");
        // A wrong password adds nothing and says why.
        await page.Locator("#passkey-password").FillAsync(user.Password + "x");
        await page.Locator("#passkey-add").ClickAsync();
        await Assertions.Expect(page.Locator("#passkey-message")).ToHaveTextAsync("This is not your password.");
        await Assertions.Expect(page.Locator("#no-passkeys")).ToBeVisibleAsync();
        await page.Locator("#passkey-password").FillAsync(user.Password);
        await page.Locator("#passkey-add").ClickAsync();
        await Assertions.Expect(page.Locator("#passkey-result")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator(".passkey-row")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator(".passkey-row .passkey-rename-name")).ToHaveValueAsync("test laptop");
        await Assertions.Expect(page.Locator("#passkey-offer")).ToHaveCountAsync(0);

        await page.Locator("#logout-form button").ClickAsync();
        await page.WaitForURLAsync(url => url.Contains(IdentitySetup.LoginPath, StringComparison.Ordinal));
        await page.Context.ClearCookiesAsync(new BrowserContextClearCookiesOptions { Name = IdentitySetup.CookieName });

        await page.Locator("#remember-device").CheckAsync();
        await page.Locator("#passkey-sign-in").ClickAsync();
        await page.WaitForURLAsync(url => new Uri(url).AbsolutePath == "/");
        await Browser.WaitUntilInteractiveAsync(page);
        await Assertions.Expect(page.Locator("#signed-in-user")).ToHaveTextAsync(user.Email);
        await Assertions.Expect(page.Locator("#dependency-health")).ToBeVisibleAsync();
        // Has a passkey now: no more prompt.
        await Assertions.Expect(page.Locator("#passkey-prompt")).ToHaveCountAsync(0);

        // "Remember this device" holds for a passkey as for a password: a cookie that outlives the browser.
        var session = (await page.Context.CookiesAsync()).Single(c => c.Name == IdentitySetup.CookieName);
        Assert.True(session.Expires > DateTimeOffset.UtcNow.AddDays(13).ToUnixTimeSeconds(), $"session cookie expires {session.Expires}");

        var events = _events.For(user.Email);
        Assert.Contains(events, e => e.Kind == SecurityEventKind.PasskeyAdded && e.Method == PasskeyAccounts.Method && e.Reason!.Contains("test laptop", StringComparison.Ordinal));
        Assert.Contains(events, e => e.Kind == SecurityEventKind.SignInSucceeded && e.Method == PasskeyAccounts.Method && e.Roles!.Contains(Roles.OnCall));
        var added = Assert.Single(await _portal.EventsAsync(PasskeyAccounts.AddedType));
        Assert.Equal(user.Email, added.Actor);
        Assert.Equal("test laptop", added.Payload.GetProperty("passkey").GetString());
        await page.Context.CloseAsync();
    }
}
