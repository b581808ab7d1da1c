using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Portal.Domain.MarketData;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Features.Identity;
using Portal.Features.MarketData;
using Portal.Features.Risk;
using Portal.Tests.Features.Readiness;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.MarketData;

public sealed class MarketDataApiTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;
    private HttpClient _feed = null!;
    private HttpClient? _orders;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync(new Dictionary<string, string?>
        {
            ["MarketData:MaxBatchSize"] = "500",
            ["MarketData:QuarantineMaxRows"] = "100",
            // Only AAPL goes stale quickly, so the staleness test need not wait a minute.
            ["MarketData:Symbols:AAPL:MaxAge"] = "00:00:05",
        });
        _feed = await _portal.ClientWithScopesAsync(Scopes.Ticks);
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    private static JsonObject Tick(string symbol, object price, DateTimeOffset at, decimal? bid = null, decimal? ask = null) => new()
    {
        ["symbol"] = symbol, ["price"] = JsonValue.Create(price), ["bid"] = bid, ["ask"] = ask, ["size"] = 100m, ["timestamp"] = at.ToString("O"),
    };

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, params JsonObject[] ticks) =>
        PostRawAsync(client, new JsonObject { ["ticks"] = new JsonArray(ticks) }.ToJsonString());

    private static Task<HttpResponseMessage> PostRawAsync(HttpClient client, string body) =>
        client.PostAsync("/api/market-data/ticks", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

    private DateTimeOffset Now => _portal.Get<TimeProvider>().GetUtcNow();

    private async Task<string> OrderReasonAsync(string clientOrderId, string symbol = "AAPL")
    {
        _orders ??= await _portal.ClientWithScopesAsync(Scopes.Orders);
        var response = await _orders.PostOrderAsync(OrderRequests.Market(clientOrderId, 1m, symbol));
        return response.StatusCode == HttpStatusCode.Created ? "accepted" : (await response.JsonAsync()).GetProperty("reason").GetString()!;
    }

    /// <summary>
    /// After a genuine re-pricing the jump check refuses every tick; the README's answer was "an operator resets the symbol",
    /// and nothing let one. A RiskOfficer resets it with a reason: audited, Stale until its next valid tick, which may then
    /// be at the new price.
    /// </summary>
    [Fact]
    public async Task A_risk_officer_resets_a_re_priced_symbol_with_a_reason_and_the_new_price_is_accepted()
    {
        var now = Now;
        await PostAsync(_feed, Tick("MSFT", 400m, now.AddMilliseconds(-200)));
        var split = await (await PostAsync(_feed, Tick("MSFT", 100m, now.AddMilliseconds(-100)))).JsonAsync();
        Assert.Equal("PriceJump", split.GetProperty("results")[0].GetProperty("reason").GetString());
        var officer = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        Task<HttpResponseMessage> ResetAsync(HttpClient client, string symbol, object body) =>
            client.PostAsync($"/api/market-data/symbols/{symbol}/reset", new StringContent(JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Forbidden, (await ResetAsync(await _portal.ClientSignedInAsAsync(Roles.OnCall), "MSFT", new { reason = "4:1 split" })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ResetAsync(_feed, "MSFT", new { reason = "4:1 split" })).StatusCode);
        var noReason = await ResetAsync(officer, "MSFT", new { reason = " " });
        Assert.Equal(HttpStatusCode.BadRequest, noReason.StatusCode);
        Assert.True((await noReason.JsonAsync()).GetProperty("errors").TryGetProperty("reason", out _));
        var unknown = await ResetAsync(officer, "NOPE", new { reason = "4:1 split" });
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.True((await unknown.JsonAsync()).GetProperty("errors").TryGetProperty("symbol", out _));
        Assert.Empty(await _portal.AuditEventsAsync(SymbolReset.AuditType));

        var reset = await ResetAsync(officer, "MSFT", new { reason = "4:1 split" });

        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        Assert.Equal("stale", (await reset.JsonAsync()).GetProperty("status").GetString());
        var accepted = await (await PostAsync(_feed, Tick("MSFT", 100m, Now))).JsonAsync();
        Assert.True(accepted.GetProperty("results")[0].GetProperty("accepted").GetBoolean());
        var audited = Assert.Single(await _portal.AuditEventsAsync(SymbolReset.AuditType)).GetProperty("payload");
        Assert.Equal(("MSFT", "4:1 split", "400"), (audited.GetProperty("symbol").GetString(), audited.GetProperty("reason").GetString(),
            audited.GetProperty("lastValidPrice").ToString()));
    }

    [Fact]
    public async Task A_batch_gets_a_verdict_per_tick_and_only_valid_ticks_move_the_reference_price()
    {
        var now = Now;
        var response = await PostAsync(_feed,
            Tick("MSFT", 400m, now.AddMilliseconds(-300), bid: 399.9m, ask: 400.1m),
            Tick("MSFT", 0.01m, now.AddMilliseconds(-200)),
            Tick("MSFT", 401m, now.AddMilliseconds(-100), bid: 401.2m, ask: 401.1m),
            Tick("MSFT", 700m, now),
            Tick("MSFT", "NaN", now),
            Tick("ZZZZ", 10m, now),
            Tick("MSFT", 400.5m, now));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.JsonAsync();
        Assert.Equal(2, body.GetProperty("accepted").GetInt32());
        Assert.Equal(5, body.GetProperty("refused").GetInt32());
        var results = body.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(
            ["accepted", "PriceTooLow", "CrossedQuote", "PriceJump", "NonFinite", "UnknownSymbol", "accepted"],
            results.Select(r => r.GetProperty("accepted").GetBoolean() ? "accepted" : r.GetProperty("reason").GetString()!));
        Assert.Contains("0.01", results[1].GetProperty("detail").GetString());
        Assert.Equal(400.5m, _portal.Get<PriceBook>().Get("MSFT")!.Price);
        Assert.Equal(SymbolDataStatus.Ok, _portal.Get<MarketDataIngest>().StatusOf("MSFT"));

        // Refused ticks land in the quarantine table, asynchronously and in batches.
        await Poll.UntilAsync(async () => await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select count(*) from market_data_quarantine") == 5,
            "five quarantined ticks");
        Assert.Equal(1, await OrderRequests.ScalarAsync(_portal.AppConnectionString,
            "select count(*) from market_data_quarantine where reason = 'NonFinite' and price is null and source like 'apikey:%'"));
    }

    [Theory]
    [InlineData("""{"tick":[]}""", "ticks")]
    [InlineData("""{"ticks":[]}""", "ticks")]
    [InlineData("""[1,2]""", "body")]
    [InlineData("""{"ticks":[{"symbol":"AAPL","price":100,"timestamp":"2026-01-05T14:30:00Z"},{"symbol":"AAPL","price":"cheap","timestamp":"2026-01-05T14:30:01Z"}]}""", "ticks[1].price")]
    [InlineData("""{"ticks":[{"symbol":"AAPL","price":100,"timestamp":"yesterday"}]}""", "ticks[0].timestamp")]
    [InlineData("""{"ticks":[{"symbol":"aapl!","price":100,"timestamp":"2026-01-05T14:30:00Z"}]}""", "ticks[0].symbol")]
    [InlineData("""{"ticks":[{"symbol":"AAPL","timestamp":"2026-01-05T14:30:00Z"}]}""", "ticks[0].price")]
    [InlineData("""{"ticks":[{"symbol":"AAPL","price":100,"bid":true,"timestamp":"2026-01-05T14:30:00Z"}]}""", "ticks[0].bid")]
    [InlineData("""{"ticks":[7]}""", "ticks[0]")]
    public async Task A_malformed_batch_is_a_400_naming_the_field_and_nothing_is_applied(string body, string field)
    {
        var response = await PostRawAsync(_feed, body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True((await response.JsonAsync()).GetProperty("errors").TryGetProperty(field, out _), $"no error for {field}");
        Assert.Null(_portal.Get<PriceBook>().Get("AAPL"));
    }

    [Fact]
    public async Task A_batch_over_the_configured_size_is_refused_whole()
    {
        var now = Now;
        var ticks = Enumerable.Range(0, 501).Select(i => Tick("AAPL", 100m, now.AddMilliseconds(i - 600))).ToArray();

        var response = await PostAsync(_feed, ticks);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("at most 500", (await response.JsonAsync()).GetProperty("errors").GetProperty("ticks")[0].GetString());
    }

    [Fact]
    public async Task Only_keys_with_the_ticks_scope_may_post()
    {
        using var orders = await _portal.ClientWithScopesAsync(Scopes.Orders);
        using var anonymous = _portal.CreateClient();

        Assert.Equal(HttpStatusCode.Forbidden, (await PostAsync(orders, Tick("AAPL", 100m, Now))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync(anonymous, Tick("AAPL", 100m, Now))).StatusCode);
        Assert.Null(_portal.Get<PriceBook>().Get("AAPL"));
    }

    [Fact]
    public async Task A_stale_symbol_refuses_orders_with_DataStale_and_recovers_when_fresh_ticks_arrive()
    {
        _orders = await _portal.ClientWithScopesAsync(Scopes.Orders);
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(_feed, Tick("AAPL", 100m, Now))).StatusCode);
        Assert.Equal("accepted", await OrderReasonAsync("fresh-1"));

        // AAPL's MaxAge is five seconds here; the status monitor announces the change without any tick.
        await Poll.UntilAsync(() => _portal.Get<MarketDataIngest>().Symbols().Single(s => s.Symbol == "AAPL").Status == SymbolDataStatus.Stale,
            "AAPL turns stale");
        Assert.Equal("DataStale", await OrderReasonAsync("stale-1"));
        Assert.Equal(1, await OrderRequests.ScalarAsync(_portal.AppConnectionString,
            "select count(*) from orders where client_order_id = 'stale-1' and decision = 'rejected' and reason = 'DataStale'"));

        var body = await (await PostAsync(_feed, Tick("AAPL", 100.2m, Now))).JsonAsync();
        Assert.Equal(1, body.GetProperty("accepted").GetInt32());
        Assert.Equal("accepted", await OrderReasonAsync("fresh-2"));
        await Poll.UntilAsync(async () => await OrderRequests.ScalarAsync(_portal.AppConnectionString,
            "select count(*) from audit_events where type = 'market_data.status_changed' and subject = 'symbol:AAPL'") >= 3,
            "audited transitions Stale→Ok→Stale→Ok");
    }

    [Fact]
    public async Task A_burst_of_aberrant_ticks_makes_the_symbol_suspect_and_orders_are_refused_with_DataSuspect()
    {
        var now = Now;
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(_feed, Tick("MSFT", 400m, now.AddMilliseconds(-100), 399.9m, 400.1m))).StatusCode);
        var statusEvents = new List<StatusChange>();
        _portal.Get<Portal.Features.Live.OpsEventBus>().Received += e =>
        {
            if (e.Type == Portal.Features.Live.OpsEventTypes.MarketData)
                lock (statusEvents) statusEvents.Add(e.Data.Deserialize<StatusChange>(Portal.Features.Live.OpsEventBus.Json)!);
        };

        // Four crossed quotes: one more than the three anomalies allowed in five minutes.
        var crossed = Enumerable.Range(0, 4).Select(i => Tick("MSFT", 400m, now.AddMilliseconds(i), bid: 400.2m, ask: 400.1m)).ToArray();
        var body = await (await PostAsync(_feed, crossed)).JsonAsync();

        Assert.Equal(4, body.GetProperty("refused").GetInt32());
        Assert.Equal(SymbolDataStatus.Suspect, _portal.Get<MarketDataIngest>().StatusOf("MSFT"));
        Assert.Equal("DataSuspect", await OrderReasonAsync("suspect-1", "MSFT"));
        lock (statusEvents) Assert.Contains(statusEvents, e => e is { Symbol: "MSFT", From: SymbolDataStatus.Ok, To: SymbolDataStatus.Suspect });
        Assert.Contains(_portal.Get<MarketDataIngest>().RecentAnomalies(), a => a is { Symbol: "MSFT", Kind: "CrossedQuote" });
    }

    [Fact]
    public async Task The_quarantine_table_keeps_only_the_newest_configured_rows()
    {
        var now = Now;
        for (var batch = 0; batch < 3; batch++)
        {
            var refused = Enumerable.Range(0, 100).Select(i => Tick("MSFT", -1m, now.AddMilliseconds(batch * 100 + i))).ToArray();
            Assert.Equal(100, (await (await PostAsync(_feed, refused)).JsonAsync()).GetProperty("refused").GetInt32());
        }

        await Poll.UntilAsync(async () => await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select coalesce(max(id), 0) from market_data_quarantine") == 300,
            "all 300 refusals written");
        Assert.Equal(100, await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select count(*) from market_data_quarantine"));
        Assert.Equal(201, await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select min(id) from market_data_quarantine"));
        var (rows, total) = await _portal.Get<QuarantineStore>().PageAsync(1, 25, "msft", CancellationToken.None);
        Assert.Equal(100, total);
        Assert.Equal(275, rows[0].Id);
        Assert.All(rows, r => Assert.Equal("Negative", r.Reason));
    }

    [Fact]
    public async Task When_every_feed_falls_silent_Portal_enters_safe_mode_and_leaves_it_on_the_next_valid_tick()
    {
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?>
        {
            ["TradingState:MarketDataSilenceThreshold"] = "00:00:02",
            ["TradingState:SilenceHaltThreshold"] = "01:00:00",
        });
        using var feed = await portal.ClientWithScopesAsync(Scopes.Ticks);
        var safeMode = portal.Get<SafeModeMonitor>();

        Assert.Equal(HttpStatusCode.OK, (await PostAsync(feed, Tick("AAPL", 100m, portal.Get<TimeProvider>().GetUtcNow()))).StatusCode);
        await Poll.UntilAsync(() => safeMode.Reason is null, "safe mode clears while the feed talks");

        // A refused tick is no sign of life: the feed counts as silent all the same.
        await Poll.UntilAsync(() => safeMode.Reason == SafeModeMonitor.MarketDataSilent, "safe mode: market-data-silent");
        var lastAccepted = portal.Get<MarketDataIngest>().LastAcceptedAt;
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(feed, Tick("AAPL", -5m, portal.Get<TimeProvider>().GetUtcNow()))).StatusCode);
        Assert.Equal(lastAccepted, portal.Get<MarketDataIngest>().LastAcceptedAt);

        Assert.Equal(HttpStatusCode.OK, (await PostAsync(feed, Tick("AAPL", 100.1m, portal.Get<TimeProvider>().GetUtcNow()))).StatusCode);
        await Poll.UntilAsync(() => safeMode.Reason is null, "safe mode clears on a valid tick");
    }
}
