using Microsoft.Playwright;
using Portal.Features.Identity;

namespace Portal.Tests.Infrastructure;

/// <summary>
/// Debian's Chromium driven by Playwright (never a downloaded browser). One browser per test
/// process; each test gets its own context (cookies) and viewport. Screenshots go to
/// TestResults/screenshots for people to look at.
/// </summary>
public static class Browser
{
    public const string ChromiumPath = "/usr/bin/chromium";
    public static readonly ViewportSize Desktop = new() { Width = 1366, Height = 900 };
    public static readonly ViewportSize Phone = new() { Width = 375, Height = 667 };

    private static readonly Lazy<Task<IBrowser>> Shared = new(LaunchAsync);

    public static string ScreenshotDirectory { get; } = Directory.CreateDirectory(Path.Combine(TestServices.RepositoryRoot, "TestResults", "screenshots")).FullName;

    private static async Task<IBrowser> LaunchAsync()
    {
        if (!File.Exists(ChromiumPath)) throw new InvalidOperationException($"{ChromiumPath} is missing: ./test installs Debian's chromium package.");
        var playwright = await Playwright.CreateAsync();
        // Assertions wait as long as actions (below): on a busy machine a circuit's round trip and a page's reload can
        // outlast Playwright's 5 s default (seen: an approval's new limit shown after more than 5 s during ./test under load).
        Assertions.SetDefaultExpectTimeout(15_000);
        var profile = Directory.CreateTempSubdirectory("portal-chromium-").FullName;
        return await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--disable-quic"],
            Env = new Dictionary<string, string> { ["XDG_CONFIG_HOME"] = profile + "/config", ["XDG_CACHE_HOME"] = profile + "/cache" },
        });
    }

    /// <param name="touch">A phone's touch screen: taps and touches instead of a mouse.</param>
    public static async Task<IPage> NewPageAsync(Uri baseAddress, ViewportSize viewport, bool touch = false)
    {
        var browser = await Shared.Value;
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseAddress.ToString(),
            ViewportSize = viewport,
            AcceptDownloads = true,
            HasTouch = touch,
            IsMobile = touch,
        });
        context.SetDefaultTimeout(15_000);
        return await context.NewPageAsync();
    }

    /// <summary>
    /// Opens <paramref name="path"/> on a new page, is sent to the sign-in page, signs <paramref name="user"/> in, and
    /// waits until it is back on <paramref name="path"/> with the interactive circuit up.
    /// </summary>
    /// <param name="baseAddress">Another name for the server than <see cref="PortalFactory.RealAddress"/>, e.g. <see cref="Localhost"/>.</param>
    /// <param name="isStatic">The page is rendered without a circuit ([ExcludeFromInteractiveRouting]): loaded is ready.</param>
    public static async Task<IPage> SignedInPageAsync(PortalFactory portal, TestUser user, ViewportSize viewport, string path, bool touch = false,
        Uri? baseAddress = null, bool isStatic = false)
    {
        var page = await NewPageAsync(baseAddress ?? portal.RealAddress!, viewport, touch);
        await page.GotoAsync(path);
        await page.WaitForURLAsync(url => url.Contains(IdentitySetup.LoginPath, StringComparison.Ordinal));
        await page.Locator("#email").FillAsync(user.Email);
        await page.Locator("#password").FillAsync(user.Password);
        await page.Locator("button[type=submit]").First.ClickAsync();
        await page.WaitForURLAsync(url => new Uri(url).AbsolutePath == path);
        if (isStatic) await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
        else await WaitUntilInteractiveAsync(page);
        return page;
    }

    /// <summary>
    /// Waits until the layout rendered over the circuit: from then on MudBlazor's inputs carry their handlers. Before it,
    /// text typed into the prerendered page is dropped when the circuit's first render replaces it.
    /// </summary>
    public static async Task WaitUntilInteractiveAsync(IPage page)
    {
        await Assertions.Expect(page.Locator(".mud-main-content")).ToHaveAttributeAsync("data-interactive", "true", new() { Timeout = 30_000 });
        await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
    }

    /// <summary>
    /// The real server as http://localhost:PORT/: WebAuthn (passkeys) needs a secure context and a domain for its relying
    /// party id; localhost is both, while 127.0.0.1 is secure but not a domain.
    /// </summary>
    public static Uri Localhost(PortalFactory portal) => new UriBuilder(portal.RealAddress!) { Host = "localhost" }.Uri;

    /// <summary>
    /// A virtual passkey authenticator for <paramref name="page"/> through the DevTools protocol: a platform authenticator
    /// (CTAP2, internal transport) that keeps discoverable credentials and verifies its user at once, as a laptop's
    /// fingerprint reader would. It lives as long as the page. Returns its id.
    /// </summary>
    public static async Task<string> AddVirtualAuthenticatorAsync(IPage page)
    {
        var devTools = await page.Context.NewCDPSessionAsync(page);
        await devTools.SendAsync("WebAuthn.enable", new Dictionary<string, object> { ["enableUI"] = false });
        var added = await devTools.SendAsync("WebAuthn.addVirtualAuthenticator", new Dictionary<string, object>
        {
            ["options"] = new Dictionary<string, object>
            {
                ["protocol"] = "ctap2",
                ["transport"] = "internal",
                ["hasResidentKey"] = true,
                ["hasUserVerification"] = true,
                ["isUserVerified"] = true,
                ["automaticPresenceSimulation"] = true,
            },
        });
        return added!.Value.GetProperty("authenticatorId").GetString()!;
    }

    /// <summary>
    /// Puts a finger on the middle of <paramref name="selector"/> and keeps it there until the returned handle is
    /// disposed (Playwright only taps, so the touch goes through the DevTools protocol, as a real touch screen's would).
    /// </summary>
    public static async Task<IAsyncDisposable> TouchAndHoldAsync(IPage page, string selector)
    {
        await page.Locator(selector).ScrollIntoViewIfNeededAsync();
        var box = (await page.Locator(selector).BoundingBoxAsync())!;
        var point = new Dictionary<string, object> { ["x"] = box.X + (box.Width / 2), ["y"] = box.Y + (box.Height / 2) };
        var devTools = await page.Context.NewCDPSessionAsync(page);
        await devTools.SendAsync("Input.dispatchTouchEvent", new Dictionary<string, object> { ["type"] = "touchStart", ["touchPoints"] = new[] { point } });
        return new Finger(devTools);
    }

    private sealed class Finger(ICDPSession devTools) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await devTools.SendAsync("Input.dispatchTouchEvent", new Dictionary<string, object> { ["type"] = "touchEnd", ["touchPoints"] = Array.Empty<object>() });
            await devTools.DetachAsync();
        }
    }

    /// <summary>Clicks until <paramref name="appears"/> shows: a click before the interactive circuit connects does nothing.</summary>
    public static async Task ClickUntilVisibleAsync(IPage page, string selector, string appears)
    {
        for (var attempt = 0; attempt < 30; attempt++)
        {
            if (await page.Locator(appears).IsVisibleAsync()) return;
            await page.ClickAsync(selector);
            try
            {
                await page.Locator(appears).WaitForAsync(new LocatorWaitForOptions { Timeout = 1000 });
                return;
            }
            catch (TimeoutException)
            {
            }
        }
        throw new TimeoutException($"{appears} never appeared after clicking {selector}.");
    }

    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDirectory, name + ".png"), FullPage = true });

    /// <summary>
    /// Where scripts/screens.sh wants the reviewers' screenshots (PORTAL_SCREENS_DIR, relative to the repository root), or
    /// null when no one asked for them: then the tests take none, which keeps an ordinary run quick.
    /// </summary>
    public static string? ReviewScreensDirectory { get; } = Environment.GetEnvironmentVariable("PORTAL_SCREENS_DIR") is { Length: > 0 } dir
        ? Directory.CreateDirectory(Path.Combine(TestServices.RepositoryRoot, dir)).FullName
        : null;

    /// <summary>A full-page screenshot named <paramref name="name"/> in <see cref="ReviewScreensDirectory"/>, when one was asked for.</summary>
    public static async Task SaveReviewScreenAsync(IPage page, string name)
    {
        if (ReviewScreensDirectory is null) return;
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ReviewScreensDirectory, name + ".png"), FullPage = true });
    }
}
