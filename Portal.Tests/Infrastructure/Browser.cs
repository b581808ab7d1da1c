using Microsoft.Playwright;

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

    public static async Task<IPage> NewPageAsync(Uri baseAddress, ViewportSize viewport)
    {
        var browser = await Shared.Value;
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseAddress.ToString(),
            ViewportSize = viewport,
            AcceptDownloads = true,
        });
        context.SetDefaultTimeout(15_000);
        return await context.NewPageAsync();
    }

    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDirectory, name + ".png"), FullPage = true });
}
