using System.Net;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Features.Risk;
using Portal.Infrastructure.Alpaca;

namespace Portal.Tests.Infrastructure.Alpaca;

/// <summary>Alpaca's market-data stream (issue #18): prices from it, a dropped stream, one connection per deployment.</summary>
public sealed class AlpacaMarketDataTests : IAsyncLifetime
{
    private FakeAlpacaServer _alpaca = null!;
    private readonly List<PortalFactory> _portals = [];

    public async Task InitializeAsync()
    {
        _alpaca = await FakeAlpacaServer.StartAsync();
        _alpaca.SetPrice("AAPL", 100m);
    }

    public async Task DisposeAsync()
    {
        foreach (var portal in _portals) await portal.DisposeAsync();
        await _alpaca.DisposeAsync();
    }

    private async Task<PortalFactory> StartAsync(Dictionary<string, string?>? overrides = null)
    {
        var settings = AlpacaTestHost.Settings(_alpaca);
        foreach (var (key, value) in overrides ?? []) settings[key] = value;
        var portal = await PortalFactory.StartAsync(settings);
        _portals.Add(portal);
        return portal;
    }

    /// <summary>Publishes trades until <paramref name="portal"/>'s price book shows the price (a connection may still be subscribing).</summary>
    private async Task StreamPriceAsync(PortalFactory portal, decimal price) =>
        await Poll.UntilAsync(async () =>
        {
            await _alpaca.PublishTradeAsync("AAPL", price);
            return portal.Get<PriceBook>().Get("AAPL")?.Price == price;
        }, $"AAPL at {price} from Alpaca's stream", TimeSpan.FromSeconds(30));

    [Fact]
    public async Task A_trade_on_Alpacas_stream_prices_a_market_order()
    {
        var portal = await StartAsync();
        var orders = await portal.ClientWithScopesAsync(Scopes.Orders);
        Assert.Null(portal.Get<PriceBook>().Get("AAPL"));

        await StreamPriceAsync(portal, 101.25m);

        var response = await orders.PostOrderAsync(OrderRequests.Market("md-1", 2m));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(1, _alpaca.MaxConcurrentDataConnections);
    }

    [Fact]
    public async Task The_latest_bar_read_at_start_up_values_positions_until_the_first_trade_but_prices_no_order()
    {
        var barTime = DateTimeOffset.UtcNow.AddHours(-16);
        _alpaca.LatestBars["AAPL"] = (98.76m, barTime);
        var portal = await StartAsync();
        var prices = portal.Get<PriceBook>();
        var ingest = portal.Get<Portal.Features.MarketData.MarketDataIngest>();
        var orders = await portal.ClientWithScopesAsync(Scopes.Orders);

        await Poll.UntilAsync(() => prices.Get("AAPL") is not null, "AAPL's reference price from the latest bar");
        Assert.Equal(98.76m, prices.Get("AAPL")!.Price);
        Assert.Equal(barTime, prices.Get("AAPL")!.Time);
        Assert.Null(prices.Get("MSFT"));
        // A bar is not a tick: the symbol stays stale, the feed silent, and an order is refused rather than priced on it.
        Assert.Null(ingest.LastAcceptedAt);
        Assert.Equal(Portal.Domain.MarketData.SymbolDataStatus.Stale, ingest.StatusOf("AAPL"));
        var refused = await (await orders.PostOrderAsync(OrderRequests.Market("md-bar", 1m))).JsonAsync();
        Assert.Equal("DataStale", refused.GetProperty("reason").GetString());

        await StreamPriceAsync(portal, 101.25m);

        Assert.Equal(HttpStatusCode.Created, (await orders.PostOrderAsync(OrderRequests.Market("md-after-bar", 1m))).StatusCode);
        // An older bar never replaces a trade's price.
        Assert.False(ingest.SeedReferencePrice("AAPL", 50m, barTime.AddMinutes(1)));
        Assert.Equal(101.25m, prices.Get("AAPL")!.Price);
    }

    [Fact]
    public async Task A_dropped_stream_reconnects_and_meanwhile_silence_puts_Portal_in_safe_mode()
    {
        var portal = await StartAsync(new() { ["TradingState:MarketDataSilenceThreshold"] = "00:00:01", ["TradingState:SilenceHaltThreshold"] = "00:10:00" });
        var safeMode = portal.Get<SafeModeMonitor>();
        await StreamPriceAsync(portal, 100.5m);
        await Poll.UntilAsync(() => !safeMode.Active.ContainsKey(SafeModeMonitor.MarketDataSilent), "the feed counts as live");

        _alpaca.RefuseDataStream = true;
        _alpaca.DropDataStream();

        await Poll.UntilAsync(() => safeMode.Active.ContainsKey(SafeModeMonitor.MarketDataSilent), "silence puts Portal in safe mode");
        var refused = await (await portal.ClientWithScopesAsync(Scopes.Orders)).PostOrderAsync(OrderRequests.Market("md-silent", 1m));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);

        _alpaca.RefuseDataStream = false;
        await Poll.UntilAsync(() => _alpaca.DataSubscriptions >= 2, "the stream reconnects", TimeSpan.FromSeconds(60));
        await StreamPriceAsync(portal, 100.75m);
        await Poll.UntilAsync(() => !safeMode.Active.ContainsKey(SafeModeMonitor.MarketDataSilent), "safe mode clears with prices back");
    }

    [Fact]
    public async Task Refused_keys_are_counted_as_an_auth_failure_and_the_stream_connects_again_once_they_are_accepted()
    {
        var portal = await StartAsync();
        await StreamPriceAsync(portal, 100.25m);
        var authFailures = AlpacaMarketDataStream.ErrorCount("402");

        // The keys are revoked and the connection drops: every reconnect is refused with 402.
        _alpaca.RejectKeys = true;
        _alpaca.DropDataStream();

        await Poll.UntilAsync(() => AlpacaMarketDataStream.ErrorCount("402") > authFailures, "Alpaca's 402 is counted under its code");
        Assert.False(portal.Get<AlpacaMarketDataStream>().Streaming);

        _alpaca.RejectKeys = false;
        await StreamPriceAsync(portal, 100.5m);
    }

    [Fact]
    public async Task A_slow_client_error_is_counted_and_the_stream_reconnects()
    {
        var portal = await StartAsync();
        await StreamPriceAsync(portal, 100.25m);
        var slowClientErrors = AlpacaMarketDataStream.ErrorCount("407");

        await _alpaca.EvictSlowDataClientsAsync();

        await Poll.UntilAsync(() => AlpacaMarketDataStream.ErrorCount("407") > slowClientErrors, "Alpaca's 407 is counted under its code");
        await Poll.UntilAsync(() => _alpaca.DataSubscriptions >= 2, "the stream reconnects", TimeSpan.FromSeconds(60));
        await StreamPriceAsync(portal, 100.5m);
    }

    [Fact]
    public async Task One_instance_streams_for_the_deployment_and_another_takes_over_when_it_stops()
    {
        var first = await StartAsync();
        var second = await first.StartPeerAsync();
        _portals.Add(second);
        await Poll.UntilAsync(() => first.Get<AlpacaMarketDataStream>().Streaming || second.Get<AlpacaMarketDataStream>().Streaming, "one instance streams",
            TimeSpan.FromSeconds(30));
        var (holder, other) = first.Get<AlpacaMarketDataStream>().Streaming ? (first, second) : (second, first);
        // Ticks the holder ingests reach the other instance through the shared market data.
        await StreamPriceAsync(other, 99.5m);
        Assert.False(other.Get<AlpacaMarketDataStream>().Streaming);
        // The other instance tried the lease every 0.2 s meanwhile and never connected: Alpaca would have refused it (406).
        Assert.Equal(0, _alpaca.DataConnectionLimitRefusals);
        Assert.Equal(1, _alpaca.DataSubscriptions);

        _portals.Remove(holder);
        await holder.DisposeAsync();

        await Poll.UntilAsync(() => other.Get<AlpacaMarketDataStream>().Streaming, "the other instance takes the stream over", TimeSpan.FromSeconds(30));
        await StreamPriceAsync(other, 99.75m);
        Assert.Equal(1, _alpaca.MaxConcurrentDataConnections);
    }

    [Fact]
    public void Trades_quotes_and_errors_are_read_as_Alpaca_sends_them()
    {
        var ticks = AlpacaMarketDataStream.Parse("""
            [{"T":"t","S":"AAPL","i":52983525029461,"x":"V","p":187.3,"s":100,"c":["@"],"t":"2024-03-05T15:30:01.123456789Z","z":"C"},
             {"T":"q","S":"MSFT","bx":"V","bp":401.1,"bs":2,"ax":"V","ap":401.3,"as":3,"c":["R"],"t":"2024-03-05T15:30:02.5Z","z":"C"},
             {"T":"q","S":"MSFT","bp":0,"ap":401.3,"t":"2024-03-05T15:30:02.5Z"},
             {"T":"b","S":"AAPL","o":1,"h":1,"l":1,"c":1,"v":1,"t":"2024-03-05T15:30:00Z"}]
            """u8.ToArray());

        Assert.Equal(2, ticks.Count);
        Assert.Equal(("AAPL", 187.3m, (decimal?)100m), (ticks[0].Symbol, ticks[0].Price, ticks[0].Size));
        Assert.Equal(new DateTimeOffset(2024, 3, 5, 15, 30, 1, TimeSpan.Zero).AddTicks(1234567), ticks[0].Timestamp);
        Assert.Equal(("MSFT", 401.2m, (decimal?)401.1m, (decimal?)401.3m), (ticks[1].Symbol, ticks[1].Price, ticks[1].Bid, ticks[1].Ask));
        var error = Assert.Throws<AlpacaStreamException>(() => AlpacaMarketDataStream.Parse("""[{"T":"error","code":406,"msg":"connection limit exceeded"}]"""u8.ToArray()));
        Assert.Equal("406", error.Code);
    }
}
