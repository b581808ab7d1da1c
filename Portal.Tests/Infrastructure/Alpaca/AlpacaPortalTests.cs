using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.Logging;
using Npgsql;
using Portal.Domain.Broker;
using Portal.Domain.Trading;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Features.Risk;
using Portal.Tests.Features.Audit;

namespace Portal.Tests.Infrastructure.Alpaca;

/// <summary>Portal with <c>Broker:Kind=Alpaca</c> against the fake Alpaca: the order path, halts, the stream, the heartbeat.</summary>
public sealed class AlpacaPortalTests : IAsyncLifetime
{
    private FakeAlpacaServer _alpaca = null!;
    private PortalFactory _portal = null!;
    private HttpClient _orders = null!;
    private HttpClient _pager = null!;

    public Task InitializeAsync() => Task.CompletedTask;

    private async Task StartAsync(Dictionary<string, string?>? overrides = null, bool marketOpen = true)
    {
        _alpaca = await FakeAlpacaServer.StartAsync();
        _alpaca.MarketOpen = marketOpen;
        _alpaca.SetPrice("AAPL", 100m);
        _alpaca.SetPrice("MSFT", 400m);
        var settings = AlpacaTestHost.Settings(_alpaca);
        foreach (var (key, value) in overrides ?? []) settings[key] = value;
        _portal = await PortalFactory.StartAsync(settings);
        _portal.SetPrice("AAPL", 100m);
        _portal.SetPrice("MSFT", 400m);
        _orders = await _portal.ClientWithScopesAsync(Scopes.Orders);
        _pager = await _portal.ClientWithScopesAsync(Scopes.Halt, Scopes.Flatten);
    }

    public async Task DisposeAsync()
    {
        if (_portal is not null) await _portal.DisposeAsync();
        if (_alpaca is not null) await _alpaca.DisposeAsync();
    }

    private Task<long> CountAsync(string sql) => OrderRequests.ScalarAsync(_portal.AppConnectionString, sql);

    private Task WaitForAsync(string sql, string what) => Poll.UntilAsync(async () => await CountAsync(sql) == 1, what);

    private async Task<System.Text.Json.JsonElement> StopAsync(string mode)
    {
        var response = await _pager.PostAsJsonAsync("/api/emergency/stop", new { reason = "test halt", mode });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.JsonAsync();
    }

    [Fact]
    public async Task An_order_goes_through_Portal_to_Alpaca_and_its_fill_comes_back_over_the_stream()
    {
        await StartAsync();
        var updates = new ConcurrentQueue<BrokerOrderState>();
        _portal.Get<IBroker>().OrderUpdated += updates.Enqueue;

        var response = await _orders.PostOrderAsync(OrderRequests.Market("a-1", 3m));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.JsonAsync();
        var sent = Assert.Single(_alpaca.Orders);
        Assert.Equal("a-1", sent.ClientOrderId);
        Assert.Equal(3m, sent.Qty);
        Assert.Equal(sent.Id, body.GetProperty("brokerOrderId").GetString());
        await WaitForAsync($"select count(*) from orders where client_order_id = 'a-1' and status = 'filled' and filled_quantity = 3 and avg_fill_price = 100 and broker_order_id = '{sent.Id}'",
            "the fill is recorded");
        // Raised just after the commit that the query above saw.
        await Poll.UntilAsync(() => updates.Any(u => u is { ClientOrderId: "a-1", Status: BrokerOrderStatus.Filled }), "OrderUpdated reports the fill");
        Assert.Equal("filled", (await (await _orders.GetAsync("/api/orders/a-1")).JsonAsync()).GetProperty("status").GetString());
        await Poll.UntilAsync(() => _portal.Get<RiskBook>().Snapshot?.Book("AAPL").PositionQuantity == 3m, "the risk view holds the position");
    }

    [Fact]
    public async Task A_fill_heard_on_the_stream_before_the_submit_reply_is_not_undone_by_the_reply()
    {
        // The reply is held long enough for the stream to deliver the fill first, and well within the request timeout.
        await StartAsync(new() { ["Broker:Alpaca:RequestTimeout"] = "00:00:05" });
        _alpaca.Script("POST /v2/orders", new Fault.SlowReply(TimeSpan.FromMilliseconds(1500)));

        var response = await _orders.PostOrderAsync(OrderRequests.Market("early-1", 3m));

        // The reply said "accepted", but the stream had already delivered the fill.
        Assert.Equal("filled", (await response.JsonAsync()).GetProperty("status").GetString());
        Assert.Equal(1, await CountAsync("select count(*) from orders where client_order_id = 'early-1' and status = 'filled'"));
        var view = await _portal.Get<IBroker>().GetPortfolioAsync(CancellationToken.None);
        Assert.Empty(view.OpenOrders);
        Assert.Equal(3m, Assert.Single(view.Positions).Quantity);
    }

    /// <summary>
    /// The submit's reply is lost and so is the look-up, but the stream has told of the fill: the order's record stands. The
    /// failure used to overwrite it with submit_failed for good (the adapter then ignores the fill it already heard), and the
    /// client, told the order failed, would send it again under a new id.
    /// </summary>
    [Fact]
    public async Task A_fill_heard_on_the_stream_is_not_undone_when_the_submit_reply_and_the_look_up_are_both_lost()
    {
        await StartAsync(new() { ["Broker:Alpaca:RequestTimeout"] = "00:00:02" });
        _alpaca.Script("POST /v2/orders", new Fault.SlowReply(TimeSpan.FromSeconds(6)));
        _alpaca.Script("GET /v2/orders:by_client_order_id", Enumerable.Repeat(Fault.Error(503, "{}"), 3).ToArray());

        var response = await _orders.PostOrderAsync(OrderRequests.Market("lost-reply-1", 3m));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("filled", (await response.JsonAsync()).GetProperty("status").GetString());
        Assert.Equal(1, await CountAsync("select count(*) from orders where client_order_id = 'lost-reply-1' and status = 'filled' and filled_quantity = 3"));
        Assert.Single(_alpaca.Orders);
    }

    /// <summary>
    /// An instance that stops between the decision and the POST leaves the order pending_submit. Only the paper broker
    /// settled such rows; with Alpaca it stayed pending for ever (counted as working, answered as pending to a retry).
    /// Settled only once Alpaca says it does not know the order; while Alpaca does not answer, it stays pending.
    /// </summary>
    [Fact]
    public async Task An_order_left_unsent_by_a_stopped_instance_becomes_submit_failed_once_Alpaca_says_it_does_not_know_it()
    {
        await StartAsync();
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Market("sent-a", 1m))).StatusCode);
        await OrderRequests.CopyAsUnsentAsync(_portal.OwnerConnectionString, "sent-a", "crashed-a", DateTimeOffset.UtcNow.AddMinutes(-5));
        await OrderRequests.CopyAsUnsentAsync(_portal.OwnerConnectionString, "sent-a", "in-flight-a", DateTimeOffset.UtcNow);
        var resolver = _portal.Get<Portal.Features.Broker.UnsentOrderResolver>();

        _alpaca.FailEverything = 500;
        Assert.Equal(0, await resolver.ResolveAsync(CancellationToken.None));
        Assert.Equal(1, await CountAsync("select count(*) from orders where client_order_id = 'crashed-a' and status = 'pending_submit'"));
        _alpaca.FailEverything = null;

        Assert.Equal(1, await resolver.ResolveAsync(CancellationToken.None));

        Assert.Equal(1, await CountAsync("select count(*) from orders where client_order_id = 'crashed-a' and status = 'submit_failed'"));
        Assert.Equal(1, await CountAsync("select count(*) from orders where client_order_id = 'in-flight-a' and status = 'pending_submit'"));
        Assert.Equal(1, await CountAsync("select count(*) from audit_events where type = 'order.submit_failed' and subject = 'order:crashed-a'"));
        Assert.DoesNotContain(_alpaca.Orders, o => o.ClientOrderId == "crashed-a");
    }

    [Fact]
    public async Task An_order_Alpaca_refuses_for_buying_power_is_refused_with_Alpacas_message()
    {
        await StartAsync();
        _alpaca.Script("POST /v2/orders", Fault.Error(403, """{"code":40310000,"message":"insufficient buying power","buying_power":"12.5","cost_basis":"300"}"""));

        var response = await _orders.PostOrderAsync(OrderRequests.Market("poor-1", 3m));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var problem = await response.JsonAsync();
        Assert.Contains("insufficient buying power", problem.GetProperty("detail").GetString());
        Assert.Equal("BrokerRejected", problem.GetProperty("reason").GetString());
        Assert.Equal(1, await CountAsync("select count(*) from orders where client_order_id = 'poor-1' and status = 'broker_rejected' and message like '%insufficient buying power%'"));
        Assert.Empty(_alpaca.Orders);
        Assert.Equal(1, _alpaca.Count("POST /v2/orders"));
    }

    [Fact]
    public async Task Cancel_halt_cancels_every_open_order_at_Alpaca_and_names_the_one_it_could_not()
    {
        await StartAsync();
        foreach (var (id, price) in new[] { ("rest-1", 99.00m), ("rest-2", 98.50m), ("rest-3", 98.00m) })
            Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Limit(id, 1m, price))).StatusCode);
        _alpaca.CancelRefusals["rest-3"] = "order is locked";

        var result = await StopAsync("cancel");

        Assert.Equal(2, result.GetProperty("cancelledOrders").GetInt32());
        var failure = Assert.Single(result.GetProperty("failures").EnumerateArray()).GetString();
        Assert.Contains("rest-3", failure);
        Assert.Contains("order is locked", failure);
        Assert.Equal(["canceled", "canceled", "new"], _alpaca.Orders.OrderBy(o => o.ClientOrderId).Select(o => o.Status));
        await WaitForAsync("select (count(*) = 2)::int from orders where status = 'canceled'", "the cancels are recorded");
    }

    [Fact]
    public async Task Flatten_halt_closes_every_position_at_Alpaca()
    {
        await StartAsync();
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Market("long-1", 3m))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Market("short-1", 2m, "MSFT", "sell"))).StatusCode);
        Assert.Equal(2, _alpaca.Positions.Count);

        var result = await StopAsync("flatten");

        Assert.Equal(2, result.GetProperty("closedPositions").GetInt32());
        Assert.Equal(0, result.GetProperty("failures").GetArrayLength());
        Assert.Empty(_alpaca.Positions);
        await Poll.UntilAsync(() => _portal.Get<RiskBook>().Snapshot is { OpenPositionCount: 0 }, "the risk view is flat");
    }

    [Fact]
    public async Task Flatten_names_each_position_Alpaca_would_not_close_with_its_message()
    {
        await StartAsync();
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Market("long-1", 3m))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Market("long-2", 1m, "MSFT"))).StatusCode);
        _alpaca.CloseRefusals["MSFT"] = "insufficient qty available for order";

        var result = await StopAsync("flatten");

        Assert.Equal(1, result.GetProperty("closedPositions").GetInt32());
        Assert.Equal("close MSFT: insufficient qty available for order (HTTP 403, code 40310000)",
            Assert.Single(result.GetProperty("failures").EnumerateArray()).GetString());
        Assert.Equal(new Dictionary<string, decimal> { ["MSFT"] = 1m }, _alpaca.Positions);
    }

    [Fact]
    public async Task Flatten_with_the_market_closed_reports_each_closing_order_still_waiting()
    {
        await StartAsync();
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Market("long-1", 3m))).StatusCode);
        _alpaca.MarketOpen = false;

        var result = await StopAsync("flatten");

        Assert.Equal(0, result.GetProperty("closedPositions").GetInt32());
        var failure = Assert.Single(result.GetProperty("failures").EnumerateArray()).GetString();
        Assert.StartsWith("close AAPL: the closing order ", failure);
        Assert.Contains("is new (0 of 3 filled) after 2 s; the market is closed, the order waits for the open at 2030-01-02 14:30:00Z", failure);
        Assert.Equal(new Dictionary<string, decimal> { ["AAPL"] = 3m }, _alpaca.Positions);
    }

    /// <summary>
    /// Outside market hours Alpaca's feed says nothing. That holds safe mode (no data, no orders) but must not halt trading
    /// and suspend the account every evening; once the market opens, a feed that stays silent halts as any silence does,
    /// counted from the open.
    /// </summary>
    [Fact]
    public async Task Market_data_silence_while_the_market_is_closed_holds_safe_mode_without_halting_and_halts_once_open()
    {
        await StartAsync(new()
        {
            ["Broker:Alpaca:MarketClockInterval"] = "00:00:00.200",
            ["TradingState:BrokerSilenceThreshold"] = "00:00:01",
            ["TradingState:MarketDataSilenceThreshold"] = "00:00:01",
            ["TradingState:SilenceHaltThreshold"] = "00:00:03",
        }, marketOpen: false);
        var monitor = _portal.Get<AutoHaltMonitor>();
        var store = _portal.Get<TradingStateStore>();

        await Poll.UntilAsync(() => monitor.SilenceHaltIsWithheld, "the silence outlasts the halt threshold while the market is closed");
        Assert.Contains(SafeModeMonitor.MarketDataSilent, _portal.Get<SafeModeMonitor>().Active.Keys);
        Assert.NotEqual(TradingMode.Halted, store.Get(TradingScopes.Global).Mode);
        Assert.False(_alpaca.SuspendTrade);

        _alpaca.MarketOpen = true;
        await Poll.UntilAsync(() => store.Get(TradingScopes.Global).Mode == TradingMode.Halted, "the silence halts once the market is open", TimeSpan.FromSeconds(20));
        Assert.Equal("auto: market-data-silent for longer than 3 seconds", store.Get(TradingScopes.Global).Reason);
        Assert.False(monitor.SilenceHaltIsWithheld);
    }

    [Fact]
    public async Task A_fill_missed_while_the_stream_was_down_is_recovered_by_reconciliation_when_it_reconnects()
    {
        // No scheduled refresh during the test: only the reconnection can bring the fill.
        await StartAsync(new() { ["Broker:Alpaca:SyncInterval"] = "00:05:00", ["Broker:Alpaca:StaleAfter"] = "00:10:00" });
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Limit("gap-1", 2m, 99m))).StatusCode);
        await WaitForAsync("select count(*) from orders where client_order_id = 'gap-1' and status = 'new'", "the order is working");
        var updates = new ConcurrentQueue<BrokerOrderState>();
        _portal.Get<IBroker>().OrderUpdated += updates.Enqueue;
        var listens = _alpaca.Listens;

        _alpaca.RefuseStream = true;
        _alpaca.DropStream();
        var lostBefore = _alpaca.LostEvents;
        _alpaca.Fill("gap-1");
        Assert.True(_alpaca.LostEvents > lostBefore, "the fill event went to nobody");
        // A refused reconnection after the fill: the instance has noticed the drop, and still knows nothing of the fill.
        var refused = _alpaca.RefusedStreams;
        await Poll.UntilAsync(() => _alpaca.RefusedStreams > refused, "the instance tries to reconnect and is refused");
        Assert.Equal(1, await CountAsync("select count(*) from orders where client_order_id = 'gap-1' and status = 'new'"));

        _alpaca.RefuseStream = false;
        await Poll.UntilAsync(() => _alpaca.Listens > listens, "the stream reconnects");
        await WaitForAsync("select count(*) from orders where client_order_id = 'gap-1' and status = 'filled' and filled_quantity = 2", "the missed fill is recorded");
        await Poll.UntilAsync(() => updates.Any(u => u is { ClientOrderId: "gap-1", Status: BrokerOrderStatus.Filled }), "OrderUpdated reports the fill");
        await Poll.UntilAsync(() => _portal.Get<RiskBook>().Snapshot?.Book("AAPL") is { PositionQuantity: 2m, OpenBuyQuantity: 0m }, "the risk view holds the fill, not the order");
    }

    /// <summary>
    /// What Alpaca did with an order belongs in the trail as the paper broker's doings do. Every instance hears the trade
    /// stream, so each change must be recorded once (the row moves only forward; the event goes with the move), and a stale
    /// state one instance still holds must not move the row back.
    /// </summary>
    [Fact]
    public async Task Alpacas_acknowledgement_and_fill_are_audit_events_recorded_once_though_every_instance_hears_them()
    {
        await StartAsync();
        await using var peer = await _portal.StartPeerAsync();
        await Poll.UntilAsync(() => _alpaca.Listens >= 2, "both instances listen to the trade stream");
        var heard = new ConcurrentQueue<BrokerOrderState>();
        _portal.Get<IBroker>().OrderUpdated += heard.Enqueue;
        peer.Get<IBroker>().OrderUpdated += heard.Enqueue;

        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Limit("aud-1", 2m, 99m))).StatusCode);
        await WaitForAsync("select count(*) from orders where client_order_id = 'aud-1' and status = 'new'", "the order is working");
        _alpaca.Fill("aud-1");
        await Poll.UntilAsync(() => heard.Count(h => h is { ClientOrderId: "aud-1", Status: BrokerOrderStatus.Filled }) == 2,
            "both instances heard the fill and recorded what they could");

        var events = (await _portal.EventsAsync("broker.")).Where(e => e.Payload.GetProperty("clientOrderId").GetString() == "aud-1").ToList();
        Assert.Equal(["broker.order.acknowledged", "broker.fill"], events.Select(e => e.Type));
        Assert.All(events, e => Assert.Equal("broker:alpaca", e.Actor));
        var fill = events[1].Payload;
        Assert.Equal(_alpaca.Orders.Single(o => o.ClientOrderId == "aud-1").Id, fill.GetProperty("brokerOrderId").GetString());
        Assert.Equal(("2", "99", "filled"), (fill.GetProperty("filledQuantity").GetString(), fill.GetProperty("avgFillPrice").GetString(), fill.GetProperty("status").GetString()));

        // An instance that never heard the fill (started after it) is handed a stale state by REST: the row does not move
        // back and nothing is recorded.
        await using var late = await _portal.StartPeerAsync();
        _alpaca.Script("GET /v2/orders:by_client_order_id",
            Fault.Error(200, _alpaca.OrderBody("aud-1", o => (o.Status, o.FilledQty) = ("partially_filled", 1m))));
        Assert.Equal(BrokerOrderStatus.PartiallyFilled, (await late.Get<IBroker>().GetOrderAsync("aud-1", CancellationToken.None))!.Status);
        Assert.Equal(1, await CountAsync("select count(*) from orders where client_order_id = 'aud-1' and status = 'filled' and filled_quantity = 2"));
        Assert.Single(await _portal.EventsAsync("broker.fill"), e => e.Payload.GetProperty("clientOrderId").GetString() == "aud-1");
    }

    /// <summary>Found by bench/Portal.Scenarios: safe mode came only once the adapter stopped serving its cached view (24 s, not 5 s).</summary>
    [Fact]
    public async Task Broker_silence_counts_from_Alpacas_last_answer_even_while_a_cached_view_is_still_served()
    {
        await StartAsync(new()
        {
            ["TradingState:BrokerSilenceThreshold"] = "00:00:02", ["Broker:Alpaca:StaleAfter"] = "00:30:00", ["Broker:Alpaca:FailuresBeforeStale"] = "100",
        });

        _alpaca.FailEverything = 500;

        await Poll.UntilAsync(() => _portal.Get<SafeModeMonitor>().Reason == SafeModeMonitor.BrokerSilent, "safe mode: broker-silent", TimeSpan.FromSeconds(20));
        // Still fresh enough to serve by the adapter's own rules: the silence was seen through it, not after it.
        var cached = await _portal.Get<IBroker>().GetPortfolioAsync(CancellationToken.None);
        Assert.True(DateTimeOffset.UtcNow - cached.AsOf >= TimeSpan.FromSeconds(2), $"served a view from {cached.AsOf:O}");
    }

    [Fact]
    public async Task Repeated_Alpaca_failures_put_Portal_in_safe_mode_until_Alpaca_answers_again()
    {
        await StartAsync(new() { ["TradingState:BrokerSilenceThreshold"] = "00:00:02" });

        _alpaca.FailEverything = 500;
        await Poll.UntilAsync(() => _portal.Get<SafeModeMonitor>().Reason == SafeModeMonitor.BrokerSilent, "safe mode: broker-silent", TimeSpan.FromSeconds(20));
        var refused = await _orders.PostOrderAsync(OrderRequests.Market("silent-1", 1m));
        Assert.Equal("SafeMode: broker-silent", (await refused.JsonAsync()).GetProperty("reason").GetString());
        Assert.Equal(0, _alpaca.Count("POST /v2/orders"));

        _alpaca.FailEverything = null;
        await Poll.UntilAsync(() => _portal.Get<SafeModeMonitor>().Reason is null, "safe mode clears", TimeSpan.FromSeconds(20));
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Market("back-1", 1m))).StatusCode);
    }

    [Fact]
    public async Task The_keys_reach_no_log_no_problem_details_no_database_row_and_no_audit_event()
    {
        await StartAsync(new()
        {
            ["Logging:LogLevel:System.Net.Http"] = "Trace",
            ["Logging:LogLevel:Polly"] = "Trace",
            ["Logging:LogLevel:Portal"] = "Trace",
        });
        var logs = new CapturedLogs();
        _portal.Get<ILoggerFactory>().AddProvider(logs);
        var replies = new List<string>();
        async Task Post(string id)
        {
            var response = await _orders.PostOrderAsync(OrderRequests.Market(id, 1m));
            replies.Add(await response.Content.ReadAsStringAsync());
        }

        var listens = _alpaca.Listens;
        _alpaca.DropStream();
        await Poll.UntilAsync(() => _alpaca.Listens > listens, "the stream re-authenticates");
        await Post("k-1");
        _alpaca.Script("POST /v2/orders", new Fault.Hang(TimeSpan.FromSeconds(6)));
        await Post("k-2");
        _alpaca.RejectKeys = true;
        await Post("k-3");
        _alpaca.DropStream();
        await Poll.UntilAsync(() => logs.Text.Contains("refused the stream's authentication", StringComparison.Ordinal), "a refused stream login is logged");

        Assert.Contains("unauthorized", replies[^1]);
        await using var connection = new NpgsqlConnection(_portal.AppConnectionString);
        await connection.OpenAsync();
        await using var select = new NpgsqlCommand("select string_agg(coalesce(message, '') || ' ' || coalesce(broker_order_id, ''), ' ') from orders", connection);
        var messages = (string)(await select.ExecuteScalarAsync())!;
        // What Alpaca said about the orders is in the trail too (broker:alpaca events).
        await using var trail = new NpgsqlCommand("select string_agg(convert_from(canonical, 'UTF8'), ' ') from audit_events", connection);
        var events = (string)(await trail.ExecuteScalarAsync())!;
        Assert.Contains("broker:alpaca", events);
        foreach (var secret in new[] { FakeAlpacaServer.SecretKey, FakeAlpacaServer.KeyId })
        {
            Assert.DoesNotContain(secret, logs.Text);
            Assert.All(replies, r => Assert.DoesNotContain(secret, r));
            Assert.DoesNotContain(secret, messages);
            Assert.DoesNotContain(secret, events);
        }
        Assert.Contains("APCA-API-SECRET-KEY", logs.Text);
    }
}
