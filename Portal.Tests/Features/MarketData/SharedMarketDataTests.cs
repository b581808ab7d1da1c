using System.Net;
using System.Text.Json.Nodes;
using Npgsql;
using Portal.Domain.MarketData;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Features.MarketData;
using Portal.Features.Risk;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.MarketData;

/// <summary>
/// Two instances on one Postgres and Redis, the feed posting to instance A only (as a load balancer may route it):
/// instance B must price, judge and stay out of safe mode on the same ticks (docs/market-data.md, "Across instances").
/// </summary>
public sealed class SharedMarketDataTests : IAsyncLifetime
{
    private PortalFactory _a = null!;
    private PortalFactory _b = null!;
    private HttpClient _feedA = null!;

    public async Task InitializeAsync()
    {
        _a = await PortalFactory.StartAsync();
        _b = await _a.StartPeerAsync();
        _feedA = await _a.ClientWithScopesAsync(Scopes.Ticks);
    }

    public async Task DisposeAsync()
    {
        await _b.DisposeAsync();
        await _a.DisposeAsync();
    }

    private DateTimeOffset Now => _a.Get<TimeProvider>().GetUtcNow();

    private static JsonObject Tick(string symbol, decimal price, DateTimeOffset at, decimal? bid = null, decimal? ask = null) => new()
    {
        ["symbol"] = symbol, ["price"] = price, ["bid"] = bid, ["ask"] = ask, ["size"] = 100m, ["timestamp"] = at.ToString("O"),
    };

    private Task<JsonObject> PostToAAsync(params JsonObject[] ticks) => PostAsync(_feedA, ticks);

    private static async Task<JsonObject> PostAsync(HttpClient feed, params JsonObject[] ticks)
    {
        var response = await feed.PostAsync("/api/market-data/ticks",
            new StringContent(new JsonObject { ["ticks"] = new JsonArray(ticks) }.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
    }

    private static async Task<string> OrderOutcomeAsync(PortalFactory portal, string clientOrderId, string symbol)
    {
        using var orders = await portal.ClientWithScopesAsync(Scopes.Orders);
        var response = await orders.PostOrderAsync(OrderRequests.Market(clientOrderId, 1m, symbol));
        return response.StatusCode == HttpStatusCode.Created ? "accepted" : (await response.JsonAsync()).GetProperty("reason").GetString()!;
    }

    [Fact]
    public async Task Ticks_posted_only_to_instance_A_price_a_market_order_on_instance_B()
    {
        Assert.Equal(1, (int)(await PostToAAsync(Tick("AAPL", 187.25m, Now)))["accepted"]!);

        await Poll.UntilAsync(() => _b.Get<PriceBook>().Get("AAPL")?.Price == 187.25m, "instance B has A's price for AAPL");
        Assert.Equal(SymbolDataStatus.Ok, _b.Get<MarketDataIngest>().StatusOf("AAPL"));
        await Poll.UntilAsync(() => _b.Get<SafeModeMonitor>().Reason is null, "instance B out of safe mode");
        Assert.Equal("accepted", await OrderOutcomeAsync(_b, "shared-b-1", "AAPL"));
    }

    [Fact]
    public async Task Instance_B_leaves_market_data_silent_when_only_instance_A_hears_the_feed()
    {
        await using var a = await PortalFactory.StartAsync(new Dictionary<string, string?>
        {
            // Short enough that the silence is seen within the test, long before the halt.
            ["TradingState:MarketDataSilenceThreshold"] = "00:00:02",
            ["TradingState:SilenceHaltThreshold"] = "01:00:00",
        });
        await using var b = await a.StartPeerAsync();
        using var feedA = await a.ClientWithScopesAsync(Scopes.Ticks);
        var safeModeB = b.Get<SafeModeMonitor>();
        // Nobody has sent a tick yet: both instances are rightly silent.
        await Poll.UntilAsync(() => safeModeB.Active.ContainsKey(SafeModeMonitor.MarketDataSilent), "instance B silent before any tick");

        Assert.Equal(1, (int)(await PostAsync(feedA, Tick("MSFT", 401m, a.Get<TimeProvider>().GetUtcNow())))["accepted"]!);

        await Poll.UntilAsync(() => !safeModeB.Active.ContainsKey(SafeModeMonitor.MarketDataSilent), "instance B hears A's feed");
        Assert.NotNull(b.Get<MarketDataIngest>().LastAcceptedAt);
    }

    [Fact]
    public async Task Aberrant_ticks_refused_on_A_make_the_symbol_suspect_on_B()
    {
        var now = Now;
        Assert.Equal(1, (int)(await PostToAAsync(Tick("MSFT", 400m, now.AddMilliseconds(-100), 399.9m, 400.1m)))["accepted"]!);
        await Poll.UntilAsync(() => _b.Get<MarketDataIngest>().StatusOf("MSFT") == SymbolDataStatus.Ok, "instance B sees MSFT ok");

        // Four crossed quotes: one more than the three anomalies allowed in five minutes.
        var crossed = Enumerable.Range(0, 4).Select(i => Tick("MSFT", 400m, now.AddMilliseconds(i), bid: 400.2m, ask: 400.1m)).ToArray();
        Assert.Equal(4, (int)(await PostToAAsync(crossed))["refused"]!);
        Assert.Equal(SymbolDataStatus.Suspect, _a.Get<MarketDataIngest>().StatusOf("MSFT"));

        await Poll.UntilAsync(() => _b.Get<MarketDataIngest>().StatusOf("MSFT") == SymbolDataStatus.Suspect, "instance B sees MSFT suspect");
        Assert.Equal("DataSuspect", await OrderOutcomeAsync(_b, "shared-suspect-b", "MSFT"));
        Assert.Contains(_b.Get<MarketDataIngest>().RecentAnomalies(), a => a is { Symbol: "MSFT", Kind: "CrossedQuote" });
    }

    private async Task NotifyAsync(string payload)
    {
        await using var connection = new NpgsqlConnection(_a.AppConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select pg_notify($1, $2)", connection);
        command.Parameters.AddWithValue(MarketDataRelay.Channel);
        command.Parameters.AddWithValue(payload);
        await command.ExecuteNonQueryAsync();
    }

    private static string Message(string origin, long sequence, string items) => $$"""{"v":1,"o":"{{origin}}","n":{{sequence}},"m":[{{items}}]}""";

    [Fact]
    public async Task A_malformed_shared_message_is_ignored_whole_and_counted()
    {
        var now = Now;
        Assert.Equal(1, (int)(await PostToAAsync(Tick("AAPL", 100m, now.AddMilliseconds(-10))))["accepted"]!);
        await Poll.UntilAsync(() => _b.Get<PriceBook>().Get("AAPL")?.Price == 100m, "instance B has AAPL at 100");
        var relay = _b.Get<MarketDataRelay>();
        var before = relay.MalformedCount;
        var at = now.UtcTicks;
        string[] malformed =
        [
            "not json",
            "[1,2,3]",
            Message("forger", 1, $$"""["t","AAPL",101,null,null,null,{{at}}],["t","ZZZZ",101,null,null,null,{{at}}]"""), // unknown symbol: the whole message goes
            Message("forger", 2, $$"""["t","AAPL","101",null,null,null,{{at}}]"""), // price as a string
            Message("forger", 3, $$"""["t","AAPL",101,null,null,null,{{at}},"extra"]"""),
            Message("forger", 4, $$"""["t","AAPL",101,null,null,null,9223372036854775807]"""), // beyond any date
            $$"""{"v":2,"o":"forger","n":5,"m":[["t","AAPL",101,null,null,null,{{at}}]]}""",
            $$"""{"v":1,"o":"forger","n":6,"m":[["t","AAPL",101,null,null,null,{{at}}]],"x":1}""",
        ];
        foreach (var payload in malformed) await NotifyAsync(payload);

        await Poll.UntilAsync(() => relay.MalformedCount - before == malformed.Length, $"{malformed.Length} malformed messages counted");
        Assert.Equal(100m, _b.Get<PriceBook>().Get("AAPL")!.Price);
    }

    [Fact]
    public async Task A_well_formed_message_is_validated_like_any_tick_and_cannot_move_a_price_past_the_rules()
    {
        var now = Now;
        Assert.Equal(1, (int)(await PostToAAsync(Tick("AAPL", 100m, now.AddMilliseconds(-10))))["accepted"]!);
        await Poll.UntilAsync(() => _b.Get<PriceBook>().Get("AAPL")?.Price == 100m, "instance B has AAPL at 100");

        // A lower reference price would let a larger order through: a 60 % drop is a jump, refused as from any feed; then a marker.
        await NotifyAsync(Message("forger", 1, $$"""["t","AAPL",40,null,null,null,{{now.UtcTicks}}],["t","MSFT",300,null,null,null,{{now.UtcTicks}}]"""));
        await Poll.UntilAsync(() => _b.Get<PriceBook>().Get("MSFT") is not null, "the marker tick applied on B");
        Assert.Equal(100m, _b.Get<PriceBook>().Get("AAPL")!.Price);
        Assert.Contains(_b.Get<MarketDataIngest>().RecentAnomalies(), a => a is { Symbol: "AAPL", Kind: "PriceJump", Source: MarketDataIngest.PeerSource });

        // Replayed: the same origin and sequence again changes nothing.
        await NotifyAsync(Message("forger", 1, $$"""["t","MSFT",301,null,null,null,{{now.AddMilliseconds(1).UtcTicks}}]"""));
        await NotifyAsync(Message("forger", 2, $$"""["t","NVDA",140,null,null,null,{{now.UtcTicks}}]"""));
        await Poll.UntilAsync(() => _b.Get<PriceBook>().Get("NVDA") is not null, "the next message applied on B");
        Assert.Equal(300m, _b.Get<PriceBook>().Get("MSFT")!.Price);
    }

    [Fact]
    public async Task Losing_the_listening_connection_is_safe_mode_until_it_listens_again()
    {
        await using var c = await _a.StartPeerAsync(overrides: new Dictionary<string, string?> { ["MarketData:RelayReconnectDelay"] = "00:00:03" });
        var relay = c.Get<MarketDataRelay>();
        var safeMode = c.Get<SafeModeMonitor>();
        await Poll.UntilAsync(() => relay.Listening, "instance C listens");

        // The same role may end its own sessions, as a Postgres failover or a network cut would.
        Assert.Equal(1, await OrderRequests.ScalarAsync(_a.AppConnectionString, "select case when pg_terminate_backend($1) then 1 else 0 end", relay.ListenerProcessId));

        await Poll.UntilAsync(() => safeMode.Active.ContainsKey(SafeModeMonitor.MarketDataRelayDown), "safe mode: market-data-relay-down");
        await Poll.UntilAsync(() => !safeMode.Active.ContainsKey(SafeModeMonitor.MarketDataRelayDown), "the relay listens again and safe mode clears");
        Assert.Equal(1, (int)(await PostToAAsync(Tick("NVDA", 140m, Now)))["accepted"]!);
        await Poll.UntilAsync(() => c.Get<PriceBook>().Get("NVDA")?.Price == 140m, "instance C hears A again");
    }
}
