using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Portal.Domain.Broker;
using Portal.Infrastructure.Alpaca;

namespace Portal.Tests.Infrastructure.Alpaca;

/// <summary>The REST client against the fake Alpaca: wire format, error mapping, retries, and never sending an order twice.</summary>
public sealed class AlpacaClientTests : IAsyncLifetime
{
    private const string Submit = "POST /v2/orders";
    private const string LookUp = "GET /v2/orders:by_client_order_id";
    private FakeAlpacaServer _server = null!;
    private ServiceProvider _services = null!;
    private readonly CapturedLogs _logs = new();

    public async Task InitializeAsync()
    {
        _server = await FakeAlpacaServer.StartAsync();
        _services = AlpacaTestHost.Client(_server, _logs);
        // A cold first request on a busy machine can take longer than the attempt timeout; no test is about that.
        await Client.GetClockAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _server.DisposeAsync();
    }

    private AlpacaClient Client => _services.GetRequiredService<AlpacaClient>();

    private static AlpacaOrderRequest Order(string clientOrderId, decimal quantity = 1m, string symbol = "AAPL", string side = "buy", decimal? limit = null) => new()
    {
        Symbol = symbol, Qty = quantity, Side = side, Type = limit is null ? "market" : "limit", TimeInForce = "day", LimitPrice = limit, ClientOrderId = clientOrderId,
    };

    [Fact]
    public async Task Numbers_sent_as_strings_and_nanosecond_timestamps_are_read_exactly()
    {
        _server.SetPrice("AAPL", 187.25m);
        _server.SetPrice("MSFT", 401.10m);
        await Client.SubmitOrderAsync(Order("long-1", 3m), CancellationToken.None);
        await Client.SubmitOrderAsync(Order("short-1", 2.5m, "MSFT", "sell"), CancellationToken.None);

        var positions = (await Client.GetPositionsAsync(CancellationToken.None)).ToDictionary(p => p.Symbol);
        Assert.Equal(3m, positions["AAPL"].Qty);
        Assert.Equal(187.25m, positions["AAPL"].AvgEntryPrice);
        Assert.Equal(-2.5m, positions["MSFT"].Qty);
        var account = await Client.GetAccountAsync(CancellationToken.None);
        Assert.Equal(100_000m - 3m * 187.25m + 2.5m * 401.10m, account.Cash);
        Assert.Equal(100_000m, account.LastEquity);
        Assert.Equal(account.Cash + 3m * 187.25m - 2.5m * 401.10m, account.Equity);

        var order = await Client.GetOrderByClientOrderIdAsync("long-1", CancellationToken.None);
        Assert.Equal("filled", order!.Status);
        Assert.Equal(187.25m, order.FilledAvgPrice);
        // The fake sends nine fractional digits; the first seven are kept.
        Assert.Equal(_server.Orders.Single(o => o.ClientOrderId == "long-1").CreatedAt, order.CreatedAt);
    }

    [Fact]
    public async Task A_401_is_Unavailable_and_keeps_Alpacas_message()
    {
        _server.RejectKeys = true;

        var error = await Assert.ThrowsAsync<BrokerException>(() => Client.GetAccountAsync(CancellationToken.None));

        Assert.Equal(BrokerErrorKind.Unavailable, error.Kind);
        Assert.Equal("http_401", error.Code);
        Assert.Equal("unauthorized", error.Message);
        Assert.Equal(1, _server.Count("GET /v2/account"));
    }

    [Fact]
    public async Task A_403_for_buying_power_refuses_the_order_with_the_brokers_code_and_message_and_sends_nothing_more()
    {
        _server.Cash = 50m;

        var error = await Assert.ThrowsAsync<BrokerException>(() => Client.SubmitOrderAsync(Order("poor-1", 10m), CancellationToken.None));

        Assert.Equal(BrokerErrorKind.Rejected, error.Kind);
        Assert.Equal("40310000", error.Code);
        Assert.Equal("insufficient buying power", error.Message);
        Assert.Equal(1, _server.Count(Submit));
        Assert.Equal(0, _server.Count(LookUp));
        Assert.Empty(_server.Orders);
    }

    [Fact]
    public async Task A_422_is_Rejected_with_Alpacas_code_and_the_order_is_not_sent_again()
    {
        _server.Script(Submit, Fault.Error(422, """{"code":42210000,"message":"potential wash trade detected. use complex orders"}"""));

        var error = await Assert.ThrowsAsync<BrokerException>(() => Client.SubmitOrderAsync(Order("wash-1"), CancellationToken.None));

        Assert.Equal(BrokerErrorKind.Rejected, error.Kind);
        Assert.Equal("42210000", error.Code);
        Assert.Equal("potential wash trade detected. use complex orders", error.Message);
        Assert.Equal(1, _server.Count(Submit));
        Assert.Empty(_server.Orders);
    }

    [Fact]
    public async Task Submitting_the_same_client_order_id_again_returns_the_existing_order()
    {
        var first = await Client.SubmitOrderAsync(Order("same-1", limit: 90m), CancellationToken.None);
        var second = await Client.SubmitOrderAsync(Order("same-1", limit: 90m), CancellationToken.None);

        Assert.Equal(first.Id, second.Id);
        Assert.Single(_server.Orders);
    }

    [Fact]
    public async Task A_429_read_waits_as_long_as_Retry_After_says_then_succeeds()
    {
        _server.Script("GET /v2/account", Fault.Error(429, """{"message":"too many requests"}""", ("Retry-After", "1")));

        var watch = Stopwatch.StartNew();
        var account = await Client.GetAccountAsync(CancellationToken.None);

        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(950), $"retried after {watch.ElapsedMilliseconds} ms");
        Assert.Equal(100_000m, account.Cash);
        Assert.Equal(2, _server.Count("GET /v2/account"));
    }

    [Fact]
    public async Task A_429_read_with_only_the_rate_limit_reset_header_waits_until_the_reset()
    {
        var reset = DateTimeOffset.UtcNow.AddSeconds(2);
        _server.Script("GET /v2/positions", Fault.Error(429, """{"message":"too many requests"}""",
            ("X-RateLimit-Limit", "200"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", reset.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture))));

        await Client.GetPositionsAsync(CancellationToken.None);

        Assert.True(DateTimeOffset.UtcNow >= DateTimeOffset.FromUnixTimeSeconds(reset.ToUnixTimeSeconds()), "retried before the reset");
        Assert.Equal(2, _server.Count("GET /v2/positions"));
    }

    [Fact]
    public async Task A_500_read_is_retried_and_then_succeeds()
    {
        _server.Script("GET /v2/positions", Fault.Error(500, """{"code":50010000,"message":"internal server error"}"""));

        Assert.Empty(await Client.GetPositionsAsync(CancellationToken.None));
        Assert.Equal(2, _server.Count("GET /v2/positions"));
    }

    [Fact]
    public async Task A_read_that_keeps_failing_gives_up_after_the_configured_retries_as_Unavailable()
    {
        _server.FailEverything = 503;

        var error = await Assert.ThrowsAsync<BrokerException>(() => Client.GetAccountAsync(CancellationToken.None));

        Assert.Equal(BrokerErrorKind.Unavailable, error.Kind);
        Assert.Equal("50010000", error.Code);
        Assert.Equal(3, _server.Count("GET /v2/account"));
    }

    [Fact]
    public async Task A_submit_that_times_out_after_Alpaca_created_the_order_is_found_and_not_sent_again()
    {
        _server.Script(Submit, new Fault.SlowReply(TimeSpan.FromSeconds(6)));

        var order = await Client.SubmitOrderAsync(Order("slow-1", limit: 90m), CancellationToken.None);

        Assert.Equal("slow-1", order.ClientOrderId);
        Assert.Single(_server.Orders);
        Assert.Equal(1, _server.Count(Submit));
        Assert.Equal(1, _server.Count(LookUp));
    }

    [Theory]
    [InlineData("hang")]
    [InlineData("500")]
    [InlineData("502")]
    public async Task A_submit_lost_before_Alpaca_created_the_order_is_sent_exactly_once_more(string fault)
    {
        _server.Script(Submit, fault == "hang" ? new Fault.Hang(TimeSpan.FromSeconds(6)) : Fault.Error(int.Parse(fault, System.Globalization.CultureInfo.InvariantCulture), "{}"));

        var order = await Client.SubmitOrderAsync(Order("lost-1", limit: 90m), CancellationToken.None);

        Assert.Equal("lost-1", order.ClientOrderId);
        Assert.Single(_server.Orders);
        Assert.Equal(2, _server.Count(Submit));
        Assert.Equal(1, _server.Count(LookUp));
    }

    [Fact]
    public async Task A_submit_whose_re_send_is_lost_too_is_never_sent_a_third_time()
    {
        _server.Script(Submit, new Fault.Hang(TimeSpan.FromSeconds(6)), new Fault.Hang(TimeSpan.FromSeconds(6)));

        var error = await Assert.ThrowsAsync<BrokerException>(() => Client.SubmitOrderAsync(Order("lost-2"), CancellationToken.None));

        Assert.Equal(BrokerErrorKind.Unavailable, error.Kind);
        Assert.Equal(2, _server.Count(Submit));
        Assert.Equal(2, _server.Count(LookUp));
        Assert.Empty(_server.Orders);
    }

    [Fact]
    public async Task A_submit_whose_fate_cannot_be_looked_up_is_not_sent_again()
    {
        _server.Script(Submit, new Fault.SlowReply(TimeSpan.FromSeconds(6)));
        _server.Script(LookUp, Enumerable.Repeat(Fault.Error(503, "{}"), 3).ToArray());

        var error = await Assert.ThrowsAsync<BrokerException>(() => Client.SubmitOrderAsync(Order("unknown-1", limit: 90m), CancellationToken.None));

        Assert.Equal(BrokerErrorKind.Unavailable, error.Kind);
        Assert.Equal(1, _server.Count(Submit));
        Assert.Single(_server.Orders);
    }

    [Fact]
    public async Task A_malformed_reply_to_a_read_is_Unavailable()
    {
        _server.Script("GET /v2/account", new Fault.Malformed(AfterHandling: false));

        var error = await Assert.ThrowsAsync<BrokerException>(() => Client.GetAccountAsync(CancellationToken.None));

        Assert.Equal(BrokerErrorKind.Unavailable, error.Kind);
        Assert.Equal("malformed_response", error.Code);
    }

    [Fact]
    public async Task A_malformed_reply_to_a_submit_that_created_the_order_is_settled_by_a_look_up()
    {
        _server.Script(Submit, new Fault.Malformed(AfterHandling: true));

        var order = await Client.SubmitOrderAsync(Order("garbled-1", limit: 90m), CancellationToken.None);

        Assert.Equal("garbled-1", order.ClientOrderId);
        Assert.Single(_server.Orders);
        Assert.Equal(1, _server.Count(Submit));
    }

    [Fact]
    public async Task Cancel_all_reports_each_order_with_its_own_result()
    {
        await Client.SubmitOrderAsync(Order("rest-1", limit: 90m), CancellationToken.None);
        await Client.SubmitOrderAsync(Order("rest-2", limit: 89m), CancellationToken.None);
        _server.CancelRefusals["rest-2"] = "order is locked";

        var items = await Client.CancelAllOrdersAsync(CancellationToken.None);

        var ids = _server.Orders.ToDictionary(o => o.ClientOrderId, o => o.Id);
        var cancelled = items.Single(i => i.Id == ids["rest-1"]);
        Assert.True(cancelled.Succeeded);
        Assert.Equal("canceled", cancelled.Order!.Status);
        var refused = items.Single(i => i.Id == ids["rest-2"]);
        Assert.False(refused.Succeeded);
        Assert.Equal("order is locked (HTTP 500, code 50010000)", refused.Error);
    }

    [Fact]
    public async Task Close_all_cancels_open_orders_and_reports_each_position()
    {
        await Client.SubmitOrderAsync(Order("long-1", 2m), CancellationToken.None);
        await Client.SubmitOrderAsync(Order("long-2", 1m, "MSFT"), CancellationToken.None);
        await Client.SubmitOrderAsync(Order("rest-1", limit: 90m), CancellationToken.None);
        _server.CloseRefusals["MSFT"] = "insufficient qty available for order";

        var items = await Client.CloseAllPositionsAsync(CancellationToken.None);

        var aapl = items.Single(i => i.Symbol == "AAPL");
        Assert.Equal(200, aapl.Status);
        Assert.Equal("sell", aapl.Order!.Side);
        Assert.Equal(2m, aapl.Order.Qty);
        Assert.Equal("insufficient qty available for order (HTTP 403, code 40310000)", items.Single(i => i.Symbol == "MSFT").Error);
        Assert.Equal("canceled", _server.Orders.Single(o => o.ClientOrderId == "rest-1").Status);
        Assert.Equal(1, _server.Count("DELETE /v2/positions"));
    }

    [Fact]
    public async Task A_missing_position_is_null_and_the_clock_is_read()
    {
        Assert.Null(await Client.GetPositionAsync("AAPL", CancellationToken.None));
        _server.MarketOpen = false;
        var clock = await Client.GetClockAsync(CancellationToken.None);
        Assert.False(clock.IsOpen);
        Assert.Equal(new DateTimeOffset(2030, 1, 2, 9, 30, 0, TimeSpan.FromHours(-5)), clock.NextOpen);
    }

    [Fact]
    public async Task A_client_order_id_longer_than_Alpaca_allows_is_refused_not_trimmed()
    {
        var error = await Assert.ThrowsAsync<BrokerException>(() => Client.SubmitOrderAsync(Order(new string('x', 49)), CancellationToken.None));

        Assert.Equal(BrokerErrorKind.Rejected, error.Kind);
        Assert.Equal(0, _server.Count(Submit));
    }

    [Fact]
    public async Task The_keys_appear_in_no_log_line_and_no_error_at_any_log_level()
    {
        var errors = new List<Exception>();
        async Task Collect(Func<Task> action)
        {
            try { await action(); } catch (Exception ex) { errors.Add(ex); }
        }
        _server.Script(Submit, new Fault.Hang(TimeSpan.FromSeconds(6)));
        await Collect(() => Client.SubmitOrderAsync(Order("logged-1"), CancellationToken.None));
        _server.Script("GET /v2/account", Fault.Error(500, "{}"));
        await Collect(() => Client.GetAccountAsync(CancellationToken.None));
        _server.RejectKeys = true;
        await Collect(() => Client.GetPositionsAsync(CancellationToken.None));
        await Collect(() => Client.SubmitOrderAsync(Order("logged-2"), CancellationToken.None));

        Assert.NotEmpty(errors);
        Assert.Contains("APCA-API-SECRET-KEY", _logs.Text); // headers were logged, with their values redacted
        foreach (var secret in new[] { FakeAlpacaServer.SecretKey, FakeAlpacaServer.KeyId })
        {
            Assert.DoesNotContain(secret, _logs.Text);
            Assert.All(errors, e => Assert.DoesNotContain(secret, e.ToString()));
        }
    }
}
