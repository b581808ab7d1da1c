using System.Net;
using System.Net.Http.Json;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Features.Identity;

namespace Portal.Tests.Infrastructure.Alpaca;

/// <summary>
/// The second kill path (issue #18): a global halt also sets Alpaca's <c>suspend_trade</c>, so an order sent around Portal
/// is refused at Alpaca; the approved resume clears it; a switch Portal did not set holds Portal in safe mode.
/// </summary>
public sealed class AlpacaKillPathTests : IAsyncLifetime
{
    private FakeAlpacaServer _alpaca = null!;
    private PortalFactory _portal = null!;
    private HttpClient _pager = null!;
    private HttpClient _orders = null!;

    public async Task InitializeAsync()
    {
        _alpaca = await FakeAlpacaServer.StartAsync();
        _alpaca.SetPrice("AAPL", 100m);
    }

    private async Task StartPortalAsync()
    {
        var settings = AlpacaTestHost.Settings(_alpaca);
        settings["TradingState:BrokerKillPathInterval"] = "00:00:00.200";
        settings["TradingState:BrokerKillPathAllowance"] = "00:00:01";
        _portal = await PortalFactory.StartAsync(settings);
        _portal.SetPrice("AAPL", 100m);
        _pager = await _portal.ClientWithScopesAsync(Scopes.Halt);
        _orders = await _portal.ClientWithScopesAsync(Scopes.Orders);
    }

    public async Task DisposeAsync()
    {
        if (_portal is not null) await _portal.DisposeAsync();
        await _alpaca.DisposeAsync();
    }

    /// <summary>An order straight to Alpaca with the account's keys, as a strategy going around Portal would send it.</summary>
    private async Task<HttpResponseMessage> OrderAroundPortalAsync(string clientOrderId)
    {
        using var direct = new HttpClient { BaseAddress = _alpaca.BaseUrl };
        direct.DefaultRequestHeaders.Add("APCA-API-KEY-ID", FakeAlpacaServer.KeyId);
        direct.DefaultRequestHeaders.Add("APCA-API-SECRET-KEY", FakeAlpacaServer.SecretKey);
        return await direct.PostAsJsonAsync("/v2/orders",
            new { symbol = "AAPL", qty = "1", side = "buy", type = "market", time_in_force = "day", client_order_id = clientOrderId });
    }

    private Task<long> CountAsync(string sql) => OrderRequests.ScalarAsync(_portal.AppConnectionString, sql);

    private async Task<System.Text.Json.JsonElement> HaltAsync()
    {
        var response = await _pager.PostAsJsonAsync("/api/emergency/stop", new { reason = "kill path test", mode = "halt" });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.JsonAsync();
    }

    [Fact]
    public async Task A_global_halt_suspends_trading_at_Alpaca_until_the_approved_resume_clears_it()
    {
        await StartPortalAsync();
        var first = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        var second = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        Assert.False(_alpaca.SuspendTrade);

        var halt = await HaltAsync();

        Assert.DoesNotContain(halt.GetProperty("failures").EnumerateArray(), f => f.GetString()!.Contains("kill path", StringComparison.Ordinal));
        Assert.True(_alpaca.SuspendTrade, "the halt answers after suspend_trade is set");
        var around = await OrderAroundPortalAsync("around-1");
        Assert.Equal(HttpStatusCode.Forbidden, around.StatusCode);
        Assert.Contains("rejected by user request", await around.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(_alpaca.Orders);
        await Poll.UntilAsync(async () => await CountAsync("select count(*) from audit_events where type = 'broker.kill_path_engaged'") == 1, "the engage is audited");

        var request = await first.PostAsJsonAsync("/api/emergency/resume", new { reason = "all clear" });
        Assert.Equal(HttpStatusCode.Accepted, request.StatusCode);
        var requestId = (await request.JsonAsync()).GetProperty("request").GetProperty("id").GetGuid();
        // The checks keep running while the request waits: a request alone clears nothing.
        await Poll.UntilAsync(async () => await CountAsync("select count(*) from broker_kill_path where broker = 'alpaca' and engaged_by_portal") == 1, "the engage is recorded");
        Assert.True(_alpaca.SuspendTrade);

        var approve = await second.PostAsync($"/api/emergency/resume/{requestId}/approve", null);

        Assert.Equal(HttpStatusCode.OK, approve.StatusCode);
        Assert.Equal("Resumed.", (await approve.JsonAsync()).GetProperty("detail").GetString());
        Assert.False(_alpaca.SuspendTrade, "the approved resume answers after suspend_trade is cleared");
        Assert.Equal(HttpStatusCode.OK, (await OrderAroundPortalAsync("around-2")).StatusCode);
        Assert.Equal(1, await CountAsync("select count(*) from audit_events where type = 'broker.kill_path_released'"));
        Assert.Equal(0, await CountAsync("select count(*) from broker_kill_path where engaged_by_portal"));
    }

    [Fact]
    public async Task A_suspend_that_fails_is_listed_in_the_halts_failures_and_retried_until_it_lands()
    {
        await StartPortalAsync();
        // More faults than the background checks can use up before the halt's own attempt (each check uses one).
        _alpaca.Script("PATCH /v2/account/configurations", Enumerable.Repeat(Fault.Error(503, """{"message":"service unavailable"}"""), 5).ToArray());

        var halt = await HaltAsync();

        Assert.Contains(halt.GetProperty("failures").EnumerateArray(), f => f.GetString()!.StartsWith("broker kill path", StringComparison.Ordinal));
        await Poll.UntilAsync(() => _alpaca.SuspendTrade, "suspend_trade is set by a retry", TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.Forbidden, (await OrderAroundPortalAsync("around-1")).StatusCode);
    }

    [Fact]
    public async Task A_flatten_halt_closes_positions_first_and_then_suspends_trading_at_Alpaca()
    {
        await StartPortalAsync();
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Market("long-1", 5m))).StatusCode);
        await Poll.UntilAsync(() => _alpaca.Positions.GetValueOrDefault("AAPL") == 5m, "the position is open at Alpaca");
        var flattener = await _portal.ClientWithScopesAsync(Scopes.Halt, Scopes.Flatten);

        var response = await flattener.PostAsJsonAsync("/api/emergency/stop", new { reason = "kill path flatten", mode = "flatten" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var halt = await response.JsonAsync();
        Assert.Empty(halt.GetProperty("failures").EnumerateArray());
        Assert.Equal(1, halt.GetProperty("closedPositions").GetInt32());
        Assert.False(_alpaca.Positions.ContainsKey("AAPL"));
        Assert.True(_alpaca.SuspendTrade);
    }

    [Fact]
    public async Task Suspend_trade_cleared_at_Alpaca_during_a_global_halt_is_set_again()
    {
        await StartPortalAsync();
        await HaltAsync();
        Assert.True(_alpaca.SuspendTrade);

        _alpaca.SuspendTrade = false;

        await Poll.UntilAsync(() => _alpaca.SuspendTrade, "Portal sets suspend_trade again");
    }

    [Fact]
    public async Task Suspend_trade_set_outside_Portal_is_a_safe_mode_cause_and_Portal_does_not_clear_it()
    {
        await StartPortalAsync();
        var safeMode = _portal.Get<SafeModeMonitor>();

        // Someone suspends trading on Alpaca's own dashboard.
        _alpaca.SuspendTrade = true;

        await Poll.UntilAsync(() => safeMode.Active.ContainsKey(SafeModeMonitor.BrokerSuspended), "safe mode names the broker's kill switch");
        var refused = await _orders.PostOrderAsync(OrderRequests.Market("while-suspended", 1m));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Contains(SafeModeMonitor.BrokerSuspended, await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(_alpaca.Orders);
        Assert.True(_alpaca.SuspendTrade, "Portal never clears a kill switch it did not set");
        await Poll.UntilAsync(async () => await CountAsync(
            "select count(*) from audit_events where type = 'safe_mode.entered' and payload->>'cause' = 'broker-suspended'") == 1, "the cause is audited");

        _alpaca.SuspendTrade = false;

        await Poll.UntilAsync(() => !safeMode.Active.ContainsKey(SafeModeMonitor.BrokerSuspended), "the cause clears once Alpaca takes orders again");
    }
}
