using System.Diagnostics;
using Portal.Tests.Infrastructure.Alpaca;

namespace Portal.Scenarios;

/// <summary>
/// A third Portal process with <c>Broker:Kind=Alpaca</c> against the fake Alpaca inside the runner (its own database
/// and Redis prefix; the demo market supplies reference prices). The fake first answers order submissions slowly
/// (the order is created, the reply comes after Portal's request timeout), then fails every request with 500.
/// Expected: no clientOrderId ever reaches Alpaca twice, safe mode (<c>broker-silent</c>) refuses orders while it
/// fails, and trading resumes by itself when it answers again.
/// </summary>
public static class BrokerStall
{
    public static async Task RunAsync(Cluster cluster, Report report, string runId, TimeSpan hold)
    {
        report.Section("fault: broker stalls (fake Alpaca: slow replies, then 500 on everything)");
        await using var alpaca = await FakeAlpacaServer.StartAsync();
        alpaca.Cash = 10_000_000m;
        foreach (var (symbol, price) in new[] { ("AAPL", 228.50m), ("MSFT", 415.20m), ("SPY", 590.10m), ("QQQ", 505.30m), ("NVDA", 142.80m),
                     ("AMZN", 201.40m), ("GOOGL", 171.90m), ("META", 565.00m), ("JPM", 243.70m), ("TSLA", 338.60m) })
            alpaca.SetPrice(symbol, price);
        await cluster.CreateDatabaseAsync("portal_alpaca");
        var environment = Scenario.PortalEnvironment(cluster, "portal_alpaca", "alpaca:");
        foreach (var (key, value) in new Dictionary<string, string>
                 {
                     ["Broker__Kind"] = "Alpaca", ["Broker__Alpaca__BaseUrl"] = alpaca.BaseUrl.ToString(),
                     ["Broker__Alpaca__KeyId"] = FakeAlpacaServer.KeyId, ["Broker__Alpaca__SecretKey"] = FakeAlpacaServer.SecretKey,
                     ["Broker__Alpaca__RequestTimeout"] = "00:00:01", ["Broker__Alpaca__TotalTimeout"] = "00:00:05",
                     ["Broker__Alpaca__SyncInterval"] = "00:00:00.500", ["Broker__Alpaca__FailuresBeforeStale"] = "2",
                     ["Broker__Alpaca__StreamReconnectDelay"] = "00:00:00.100",
                 })
            environment[key] = value;
        var portal = cluster.AddPortal("portal-alpaca", environment);
        await portal.StartAsync(TimeSpan.FromSeconds(90));
        var apiKey = await Scenario.CreateApiKeyAsync(cluster, "portal_alpaca", "scenario-alpaca", "all");
        using var api = new Api(portal.Url, apiKey, TimeSpan.FromSeconds(30));
        var ledger = new Ledger();
        var strategy = $"{runId}-alpaca";

        var first = await UntilAsync(ledger, api, runId, strategy, a => a.Status == 201, TimeSpan.FromSeconds(30));
        report.Expect(first is not null, "orders reach the fake Alpaca before the stall");

        alpaca.Script("POST /v2/orders", Enumerable.Repeat<Fault>(new Fault.SlowReply(TimeSpan.FromSeconds(2)), 5).ToArray());
        var slow = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => ledger.ProbeAsync(api, 0, runId, strategy)));
        report.Line("answers while Alpaca replies after Portal's 1 s timeout: " + string.Join(", ", slow.Select(a => $"{a.Status} {a.Reason}".Trim())));
        report.Expect(slow.All(a => a.Status is 201 or 502 or 503), "slow broker replies: every order is answered with a decision or a refusal, never a 500");

        alpaca.FailEverything = 500;
        var safeMode = await UntilAsync(ledger, api, runId, strategy, a => a.Status == 503 && a.Refused("SafeMode"), TimeSpan.FromSeconds(30));
        report.Expect(safeMode is not null, $"Alpaca failing every request: safe mode refuses orders after {(safeMode is { } ms ? Report.Ms(ms) : "never")}");
        await Task.Delay(hold);
        alpaca.FailEverything = null;
        var resumed = await UntilAsync(ledger, api, runId, strategy, a => a.Status == 201, TimeSpan.FromSeconds(60));
        report.Expect(resumed is not null, $"Alpaca answering again: orders accepted again after {(resumed is { } r ? Report.Ms(r) : "never")}");

        var atBroker = alpaca.Orders.GroupBy(o => o.ClientOrderId).ToList();
        var duplicates = atBroker.Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        report.Expect(duplicates.Count == 0, $"no clientOrderId twice at Alpaca: {atBroker.Count} orders, {duplicates.Count} duplicated{Reconciliation.Sample(duplicates)}");
        var acceptedIds = ledger.All.Where(s => s.Answer.Status == 201).Select(s => s.ClientOrderId).Distinct().ToList();
        var brokerIds = atBroker.Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        var lost = acceptedIds.Where(id => !brokerIds.Contains(id)).ToList();
        report.Expect(lost.Count == 0, $"every accepted order is at Alpaca: {acceptedIds.Count} accepted, {lost.Count} missing{Reconciliation.Sample(lost)}");
        await Reconciliation.RunAsync(report, cluster.OwnerConnectionString("portal_alpaca"), runId, ledger.All, paperBroker: false);
        portal.Kill();
    }

    private static async Task<double?> UntilAsync(Ledger ledger, Api api, string runId, string strategy, Func<Answer, bool> done, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            if (done(await ledger.ProbeAsync(api, 0, runId, strategy))) return watch.Elapsed.TotalMilliseconds;
            await Task.Delay(50);
        }
        return null;
    }
}
