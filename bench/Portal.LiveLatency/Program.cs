// Live-update latency across instances: how long from an order decision on Portal instance B until its row shows
// in a browser connected to instance A (issue 5; goal p95 < 250 ms). Started by bench/live-latency.sh, which runs
// PostgreSQL, Redis and the two Portal processes. Chromium (Debian's, through Playwright) signs in on A and opens the
// positions page, whose order blotter reloads on each orderDecision event (OpsEventBus, relayed through Redis); a
// MutationObserver stamps the moment each order's row appears. Orders go to B one at a time over HTTP.
//
//   dotnet Portal.LiveLatency.dll --a URL --b URL --api-key KEY --email EMAIL --password PASSWORD [--orders 200] [--gap-ms 100]
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Playwright;

var options = ParseArgs(args);
var a = new Uri(options["a"]);
var b = new Uri(options["b"]);
var orders = int.Parse(options.GetValueOrDefault("orders", "200"), CultureInfo.InvariantCulture);
var gap = TimeSpan.FromMilliseconds(int.Parse(options.GetValueOrDefault("gap-ms", "100"), CultureInfo.InvariantCulture));
const int WarmUp = 5;

using var http = new HttpClient { BaseAddress = b };
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options["api-key"]);

using var playwright = await Playwright.CreateAsync();
var profile = Directory.CreateTempSubdirectory("portal-latency-chromium-").FullName;
await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
{
    ExecutablePath = "/usr/bin/chromium",
    Headless = true,
    Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--disable-quic"],
    Env = new Dictionary<string, string> { ["XDG_CONFIG_HOME"] = profile + "/config", ["XDG_CACHE_HOME"] = profile + "/cache" },
});
var context = await browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = a.ToString(), ViewportSize = new ViewportSize { Width = 1280, Height = 800 } });
context.SetDefaultTimeout(120_000);
var page = await context.NewPageAsync();
await page.GotoAsync("/account/login?returnUrl=%2Fpositions", new PageGotoOptions { WaitUntil = WaitUntilState.DOMContentLoaded });
await page.FillAsync("#email", options["email"]);
await page.FillAsync("#password", options["password"]);
await page.ClickAsync("button[type=submit]");
await page.WaitForURLAsync(url => new Uri(url).AbsolutePath == "/positions");
// The blotter's rows come from the interactive circuit: once a row or the empty text shows, live events flow.
await page.Locator("#order-blotter tbody tr").First.WaitForAsync();
await page.EvaluateAsync("""
    () => {
        window.__pending = new Set();
        window.__seen = {};
        const check = () => {
            if (window.__pending.size === 0) return;
            const text = document.querySelector('#order-blotter')?.innerText ?? '';
            const now = performance.timeOrigin + performance.now();
            for (const id of [...window.__pending]) if (text.includes(id)) { window.__seen[id] = now; window.__pending.delete(id); }
        };
        new MutationObserver(check).observe(document.body, { childList: true, subtree: true, characterData: true });
    }
    """);

var run = Guid.NewGuid().ToString("N")[..6];
var fromSend = new List<double>();
var fromReply = new List<double>();
var statuses = new Dictionary<int, int>();
Console.WriteLine($"{orders} orders to B ({b}), rows watched in Chromium on A ({a}), {gap.TotalMilliseconds:F0} ms apart, after {WarmUp} warm-up orders; " +
                  $"{Environment.ProcessorCount} cores, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
for (var i = 0; i < WarmUp + orders; i++)
{
    var id = $"lat-{run}-{i}";
    await page.EvaluateAsync("id => window.__pending.add(id)", id);
    var body = $$"""{"clientOrderId":"{{id}}","strategyId":"latency","symbol":"AAPL","side":"buy","quantity":1,"type":"market","timeInForce":"day"}""";
    var sent = UnixMs();
    using var response = await http.PostAsync("/api/orders", new StringContent(body, Encoding.UTF8, "application/json"));
    var replied = UnixMs();
    await page.WaitForFunctionAsync("id => window.__seen[id] !== undefined", id, new PageWaitForFunctionOptions { PollingInterval = 5 });
    var seen = await page.EvaluateAsync<double>("id => window.__seen[id]", id);
    if (i >= WarmUp)
    {
        fromSend.Add(seen - sent);
        fromReply.Add(seen - replied);
        statuses[(int)response.StatusCode] = statuses.GetValueOrDefault((int)response.StatusCode) + 1;
    }
    await Task.Delay(gap);
}

Console.WriteLine("decisions by HTTP status: " + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}: {s.Value}")));
Report("request sent to B -> row visible on A (includes B's decision and commit)", fromSend);
Report("B's reply received -> row visible on A", fromReply);
return 0;

static void Report(string what, List<double> samples)
{
    var sorted = samples.Order().ToList();
    double At(double q) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
    Console.WriteLine($"{what}: n={sorted.Count} p50 {At(0.50):F1} ms  p95 {At(0.95):F1} ms  p99 {At(0.99):F1} ms  max {sorted[^1]:F1} ms  (min {sorted[0]:F1} ms)");
}

static double UnixMs() => (DateTime.UtcNow - DateTime.UnixEpoch).TotalMilliseconds;

static Dictionary<string, string> ParseArgs(string[] args)
{
    var result = new Dictionary<string, string>(StringComparer.Ordinal);
    for (var i = 0; i + 1 < args.Length; i += 2)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"Expected --name value, got '{args[i]}'.");
        result[args[i][2..]] = args[i + 1];
    }
    foreach (var required in new[] { "a", "b", "api-key", "email", "password" })
        if (!result.ContainsKey(required)) throw new ArgumentException($"--{required} is required.");
    return result;
}
