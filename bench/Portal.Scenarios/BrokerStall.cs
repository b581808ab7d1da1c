using System.Diagnostics;
using Portal.Tests.Infrastructure.Alpaca;

namespace Portal.Scenarios;

/// <summary>
/// A third Portal process with <c>Broker:Kind=Alpaca</c> against the tests' fake Alpaca inside the runner (its own
/// database and Redis prefix). Portal has no price feed besides the demo market, which cannot run with Alpaca, so this
/// instance has no reference prices: its market-data silence threshold is set beyond the run and orders that reach
/// the checks are refused with NoReferencePrice. What is checked is the broker heartbeat: the fake first hangs its
/// account reads, then answers 500 to everything. Expected: safe mode (<c>broker-silent</c>) refuses orders within
/// the configured threshold, a halt with cancel still answers (listing the failure) instead of waiting, Portal never
/// answers 500, and safe mode clears by itself when Alpaca answers again. Nothing reaches Alpaca meanwhile.
/// </summary>
public static class BrokerStall
{
    public static async Task RunAsync(Cluster cluster, Report report, string runId, TimeSpan hold)
    {
        report.Section("fault: broker stalls (fake Alpaca: hanging account reads, then 500 on everything)");
        await using var alpaca = await FakeAlpacaServer.StartAsync();
        await cluster.CreateDatabaseAsync("portal_alpaca");
        var environment = Scenario.PortalEnvironment(cluster, "portal_alpaca", "alpaca:");
        foreach (var (key, value) in new Dictionary<string, string>
                 {
                     ["Demo__Enabled"] = "false",
                     ["TradingState__MarketDataSilenceThreshold"] = "01:00:00", ["TradingState__SilenceHaltThreshold"] = "02:00:00",
                     ["Broker__Kind"] = "Alpaca", ["Broker__Alpaca__BaseUrl"] = alpaca.BaseUrl.ToString(),
                     ["Broker__Alpaca__KeyId"] = FakeAlpacaServer.KeyId, ["Broker__Alpaca__SecretKey"] = FakeAlpacaServer.SecretKey,
                     ["Broker__Alpaca__RequestTimeout"] = "00:00:03", ["Broker__Alpaca__TotalTimeout"] = "00:00:10",
                     ["Broker__Alpaca__SyncInterval"] = "00:00:00.500", ["Broker__Alpaca__MinSyncGap"] = "00:00:00.050", ["Broker__Alpaca__FailuresBeforeStale"] = "2",
                     ["Broker__Alpaca__StreamReconnectDelay"] = "00:00:00.100",
                 })
            environment[key] = value;
        var portal = cluster.AddPortal("portal-alpaca", environment);
        await portal.StartAsync(TimeSpan.FromSeconds(180));
        var apiKey = await Scenario.CreateApiKeyAsync(cluster, "portal_alpaca", "scenario-alpaca", "all", "*");
        using var api = new Api(portal.Url, apiKey, TimeSpan.FromSeconds(30));
        using var anonymous = new Api(portal.Url, null);
        var ledger = new Ledger();
        var strategy = $"{runId}-alpaca";
        var before = await ledger.ProbeAsync(api, 0, runId, strategy);
        report.Expect(before.Status == 422 && before.Reason == "NoReferencePrice", $"before the stall: ready, orders reach the checks (got {before.Status} {before.Reason})");

        alpaca.Script("GET /v2/account", Enumerable.Repeat<Fault>(new Fault.Hang(TimeSpan.FromSeconds(5)), 10).ToArray());
        var slow = await UntilSafeModeAsync(ledger, api, runId, strategy);
        // Measured from the hang's start; the broker's last answer was at most one sync interval (0.5 s) before it.
        report.Expect(slow is not null, $"account reads hanging: safe mode (broker-silent) refuses orders after {(slow is { } s ? Report.Ms(s) : "never")} " +
                                        "(goal: within the 5 s TradingState:BrokerSilenceThreshold plus 1 s; a figure, not asserted: it depends on the machine's load)");

        alpaca.FailEverything = 500;
        var halt = await api.SendAsync(HttpMethod.Post, "api/emergency/stop", """{"reason":"broker stall scenario","mode":"cancel"}""");
        report.Expect(halt.Status == 200 && halt.LatencyMs < 10_000, $"a halt with cancel while Alpaca fails answers 200 in {Report.Ms(halt.LatencyMs)} (failures listed, not waited on)");
        await Task.Delay(hold);
        var during = await ledger.ProbeAsync(api, 0, runId, strategy);
        report.Expect(during.Status is 422 or 503, $"orders during the outage refused, never a 500 (got {during.Status} {during.Reason})");

        // Hangs still queued are answered first, so recovery includes them.
        alpaca.FailEverything = null;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var ready = false;
        while (watch.Elapsed < TimeSpan.FromSeconds(60) && !(ready = (await anonymous.SendAsync(HttpMethod.Get, "health/ready")).Status == 200)) await Task.Delay(100);
        report.Expect(ready, $"Alpaca answering again: safe mode clears by itself after {Report.Ms(watch.Elapsed.TotalMilliseconds)}");
        var after = await ledger.ProbeAsync(api, 0, runId, strategy);
        report.Expect(after.Status == 422 && after.Reason == "TradingHalted", $"the halt made during the stall holds afterwards (got {after.Status} {after.Reason})");
        var serverErrors = ledger.All.Count(s => s.Answer.Status >= 500 && s.Answer.Status != 503);
        report.Expect(serverErrors == 0 && alpaca.Orders.Count == 0, $"no 500 from Portal ({serverErrors}), no order reached Alpaca ({alpaca.Orders.Count})");
        await Reconciliation.RunAsync(report, cluster.OwnerConnectionString("portal_alpaca"), runId, ledger.All, paperBroker: false);
        portal.Kill();
    }

    private static async Task<double?> UntilSafeModeAsync(Ledger ledger, Api api, string runId, string strategy)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            var answer = await ledger.ProbeAsync(api, 0, runId, strategy);
            if (answer.Status == 503 && answer.Refused("SafeMode: broker-silent")) return watch.Elapsed.TotalMilliseconds;
            await Task.Delay(50);
        }
        return null;
    }
}
