using System.Net;
using System.Net.Http.Json;
using Npgsql;
using Portal.Domain.Trading;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Halt;

public sealed class KillSwitchTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;
    private HttpClient _orders = null!;
    private HttpClient _pager = null!;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync();
        _portal.SetPrice("AAPL", 100m);
        _portal.SetPrice("MSFT", 400m);
        _orders = await _portal.ClientWithScopesAsync(Scopes.Orders);
        _pager = await _portal.ClientWithScopesAsync(Scopes.Halt);
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    private Task<long> CountAsync(string sql) => OrderRequests.ScalarAsync(_portal.AppConnectionString, sql);

    /// <summary>A flatten needs its own scope (a halt key may not liquidate the book; see FlattenScopeTests).</summary>
    private async Task<HttpResponseMessage> StopAsync(string mode, string? strategyId = null) =>
        await (mode == "flatten" ? await _portal.ClientWithScopesAsync(Scopes.Flatten) : _pager)
            .PostAsJsonAsync("/api/emergency/stop", new { reason = "test halt", mode, strategyId });

    [Fact]
    public async Task After_a_halt_every_new_order_is_refused_with_TradingHalted()
    {
        var halt = await StopAsync("halt");
        Assert.Equal(HttpStatusCode.OK, halt.StatusCode);
        var result = await halt.JsonAsync();
        Assert.Equal("halted", result.GetProperty("state").GetString());
        Assert.True(result.GetProperty("refusingAfterMs").GetDouble() < 1000);

        var order = await _orders.PostOrderAsync(OrderRequests.Market("after-halt", 1m));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, order.StatusCode);
        Assert.Equal("TradingHalted", (await order.JsonAsync()).GetProperty("reason").GetString());
        Assert.Equal(1, await CountAsync("select count(*) from trading_state where scope = 'global' and mode = 'halted'"));
        Assert.Equal(1, await CountAsync("select count(*) from trading_state_changes where scope = 'global' and mode = 'halted'"));
    }

    /// <summary>
    /// An order on its way when the halt comes (past the early check, waiting for the account lock) is decided against
    /// the state at its decision, not the one it saw on arrival: it used to be accepted and filled after the halt replied.
    /// </summary>
    [Fact]
    public async Task An_order_waiting_for_its_decision_when_the_halt_comes_is_refused_with_TradingHalted()
    {
        await using var holder = new NpgsqlConnection(_portal.AppConnectionString);
        await holder.OpenAsync();
        var hold = await holder.BeginTransactionAsync();
        await using (var lockIt = new NpgsqlCommand("select id from risk_account where id = 1 for update", holder, hold)) await lockIt.ExecuteNonQueryAsync();
        var order = _orders.PostOrderAsync(OrderRequests.Market("in-flight-at-halt", 1m));
        await Poll.UntilAsync(async () => await CountAsync(
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like '%risk_account%'") == 1, "the order waits for the account lock");

        Assert.Equal(HttpStatusCode.OK, (await StopAsync("halt")).StatusCode);
        await hold.RollbackAsync();

        var response = await order;
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("TradingHalted", (await response.JsonAsync()).GetProperty("reason").GetString());
        Assert.Equal(0, await CountAsync("select count(*) from paper_orders"));
    }

    [Fact]
    public async Task Cancel_cancels_every_open_order_at_the_broker()
    {
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Limit("rest-1", 1m, 99.00m))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Limit("rest-2", 1m, 98.50m))).StatusCode);

        var result = await (await StopAsync("cancel")).JsonAsync();

        Assert.Equal(2, result.GetProperty("cancelledOrders").GetInt32());
        Assert.Equal(0, await CountAsync("select count(*) from paper_orders where status in ('new', 'partially_filled')"));
        Assert.Equal(2, await CountAsync("select count(*) from orders where status = 'canceled'"));
    }

    [Fact]
    public async Task Flatten_leaves_no_positions()
    {
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Market("long-1", 3m))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Market("short-1", 2m, "MSFT", "sell"))).StatusCode);
        Assert.Equal(2, await CountAsync("select count(*) from paper_positions"));

        var result = await (await StopAsync("flatten")).JsonAsync();

        Assert.Equal(2, result.GetProperty("closedPositions").GetInt32());
        Assert.Equal(0, result.GetProperty("failures").GetArrayLength());
        Assert.Equal(0, await CountAsync("select count(*) from paper_positions"));
    }

    [Fact]
    public async Task A_strategy_halt_leaves_other_strategies_trading()
    {
        Assert.Equal(HttpStatusCode.OK, (await StopAsync("halt", "runaway")).StatusCode);

        var halted = await _orders.PostOrderAsync(OrderRequests.Market("r-1", 1m, strategyId: "runaway"));
        var other = await _orders.PostOrderAsync(OrderRequests.Market("o-1", 1m, strategyId: "steady"));

        Assert.Equal("TradingHalted", (await halted.JsonAsync()).GetProperty("reason").GetString());
        Assert.Equal(HttpStatusCode.Created, other.StatusCode);
    }

    [Fact]
    public async Task Flatten_cannot_be_limited_to_one_strategy_and_bad_requests_name_the_field()
    {
        var flatten = await StopAsync("flatten", "s1");
        Assert.Equal(HttpStatusCode.BadRequest, flatten.StatusCode);
        Assert.True((await flatten.JsonAsync()).GetProperty("errors").TryGetProperty("mode", out _));

        var noReason = await _pager.PostAsJsonAsync("/api/emergency/stop", new { mode = "halt" });
        Assert.True((await noReason.JsonAsync()).GetProperty("errors").TryGetProperty("reason", out _));
        Assert.Equal(0, await CountAsync("select count(*) from trading_state"));
    }

    [Fact]
    public async Task Only_the_halt_scope_may_stop_and_a_machine_key_may_never_resume()
    {
        Assert.Equal(HttpStatusCode.Forbidden, (await _orders.PostAsJsonAsync("/api/emergency/stop", new { reason = "x", mode = "halt" })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _portal.CreateClient().PostAsJsonAsync("/api/emergency/stop", new { reason = "x", mode = "halt" })).StatusCode);
        var allScopes = await _portal.ClientWithScopesAsync([.. Scopes.All]);
        // Resume is for people only: the key's identity does not even count for that policy.
        Assert.Contains((await allScopes.PostAsJsonAsync("/api/emergency/resume", new { reason = "x" })).StatusCode,
            new[] { HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden });
        Assert.Equal(0, await CountAsync("select count(*) from trading_state"));
    }

    [Fact]
    public async Task Resume_needs_a_second_different_risk_officer()
    {
        var killSwitch = _portal.Get<KillSwitch>();
        await killSwitch.HaltAsync("drill", HaltMode.Halt, null, "oncall-1", automatic: false, CancellationToken.None);

        var requested = await killSwitch.RequestResumeAsync("all clear", null, TradingMode.Active, "risk-1", CancellationToken.None);
        Assert.Equal(ResumeStatus.PendingApproval, requested.Status);
        Assert.Equal(TradingMode.Halted, _portal.Get<TradingStateStore>().ModeFor("any"));

        var sameOfficer = await killSwitch.ApproveResumeAsync(requested.Request!.Id, "risk-1", CancellationToken.None);
        Assert.Equal(ResumeStatus.Refused, sameOfficer.Status);
        Assert.Equal(TradingMode.Halted, _portal.Get<TradingStateStore>().ModeFor("any"));

        var approved = await killSwitch.ApproveResumeAsync(requested.Request.Id, "risk-2", CancellationToken.None);
        Assert.Equal(ResumeStatus.Resumed, approved.Status);
        Assert.Equal(TradingMode.Active, _portal.Get<TradingStateStore>().ModeFor("any"));
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Market("after-resume", 1m))).StatusCode);
        Assert.Equal(1, await CountAsync("select count(*) from resume_requests where state = 'approved' and decided_by = 'risk-2'"));
    }

    [Fact]
    public async Task Through_the_API_OnCall_may_halt_but_not_resume_and_two_risk_officers_resume()
    {
        var onCall = await _portal.ClientSignedInAsAsync(Roles.OnCall);
        Assert.Equal(HttpStatusCode.OK, (await onCall.PostAsJsonAsync("/api/emergency/stop", new { reason = "from the phone", mode = "halt" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await onCall.PostAsJsonAsync("/api/emergency/resume", new { reason = "not mine to do" })).StatusCode);

        var first = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        var requested = await first.PostAsJsonAsync("/api/emergency/resume", new { reason = "incident closed" });
        Assert.Equal(HttpStatusCode.Accepted, requested.StatusCode);
        var requestId = (await requested.JsonAsync()).GetProperty("request").GetProperty("id").GetGuid();
        Assert.Equal("TradingHalted", (await (await _orders.PostOrderAsync(OrderRequests.Market("pending-approval", 1m))).JsonAsync()).GetProperty("reason").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await first.PostAsync($"/api/emergency/resume/{requestId}/approve", null)).StatusCode);

        var second = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        Assert.Equal(HttpStatusCode.OK, (await second.PostAsync($"/api/emergency/resume/{requestId}/approve", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Market("approved", 1m))).StatusCode);
    }

    [Fact]
    public async Task A_strategy_repeatedly_sending_oversized_orders_is_halted_automatically()
    {
        for (var i = 0; i < 3; i++)
            Assert.Equal("MaxOrderValue", (await (await _orders.PostOrderAsync(OrderRequests.Market($"fat-{i}", 60m, strategyId: "runaway"))).JsonAsync()).GetProperty("reason").GetString());

        await Poll.UntilAsync(() => _portal.Get<TradingStateStore>().ModeFor("runaway") == TradingMode.Halted, "the runaway strategy is halted");
        Assert.Equal(TradingMode.Active, _portal.Get<TradingStateStore>().ModeFor("steady"));
    }

    [Fact]
    public async Task Trading_state_shows_halt_reason_who_and_since()
    {
        await StopAsync("halt");
        var state = await (await _orders.GetAsync("/api/trading-state")).JsonAsync();
        var global = state.GetProperty("scopes").EnumerateArray().Single(s => s.GetProperty("scope").GetString() == "global");
        Assert.Equal("halted", global.GetProperty("mode").GetString());
        Assert.Equal("test halt", global.GetProperty("reason").GetString());
        Assert.StartsWith("apikey:", global.GetProperty("changedBy").GetString());
        Assert.False(state.GetProperty("safeMode").GetBoolean());
    }
}
