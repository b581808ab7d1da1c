using System.Net;
using System.Text.Json;
using Portal.Domain.Risk;
using Portal.Domain.Trading;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Tests.Infrastructure;
using StackExchange.Redis;

namespace Portal.Tests.Features.Orders;

/// <summary>
/// Strategies belong to keys: an order names a strategy the key was given, never Portal's own ids (the drill strategy has
/// its own global rate counters and is never auto-halted), and a key cannot halt a strategy it may not trade.
/// </summary>
public sealed class StrategyIdentityTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync(new Dictionary<string, string?> { ["ApiKeys:MaxOrdersPerMinutePerKey"] = "3" });
        _portal.SetPrice("AAPL", 100m);
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    private Task<HttpClient> KeyAsync(params string[] strategies) => _portal.ClientWithKeyAsync([Scopes.Orders], strategies);

    private static async Task AssertForbiddenStrategyAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.JsonAsync();
        Assert.True(problem.GetProperty("errors").TryGetProperty("strategyId", out _), problem.ToString());
    }

    [Fact]
    public async Task An_order_for_a_strategy_outside_the_keys_list_is_403_naming_strategyId_and_leaves_no_row()
    {
        var key = await KeyAsync("mom-1", "mean-rev");

        await AssertForbiddenStrategyAsync(await key.PostOrderAsync(OrderRequests.Market("other-1", 1m, strategyId: "someone-else")));

        Assert.Equal(HttpStatusCode.Created, (await key.PostOrderAsync(OrderRequests.Market("own-1", 1m, strategyId: "mom-1"))).StatusCode);
        Assert.Equal(0, await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select count(*) from orders where client_order_id = 'other-1'"));
    }

    [Fact]
    public async Task A_key_with_no_strategies_trades_nothing()
    {
        var key = await _portal.ClientWithKeyAsync([Scopes.Orders], []);

        await AssertForbiddenStrategyAsync(await key.PostOrderAsync(OrderRequests.Market("none-1", 1m, strategyId: "s1")));
    }

    [Theory]
    [InlineData("drill")]
    [InlineData("DRILL")]
    [InlineData("portal-demo")]
    [InlineData("Portal-anything")]
    public async Task Reserved_strategy_ids_are_refused_to_every_key_the_wildcard_included(string strategyId)
    {
        var everything = await KeyAsync(StrategyGrants.AllOpen);
        var listed = await KeyAsync("s1");

        await AssertForbiddenStrategyAsync(await everything.PostOrderAsync(OrderRequests.Market($"r-all-{strategyId}", 1m, strategyId: strategyId)));
        await AssertForbiddenStrategyAsync(await listed.PostOrderAsync(OrderRequests.Market($"r-one-{strategyId}", 1m, strategyId: strategyId)));
        await Assert.ThrowsAsync<ArgumentException>(() => _portal.Get<ApiKeyService>().CreateAsync("grant-" + strategyId, [Scopes.Orders], strategies: [strategyId]));
    }

    [Fact]
    public async Task Oversized_orders_from_a_key_not_allowed_to_trade_the_victim_do_not_halt_it()
    {
        var victim = await KeyAsync("victim");
        var attacker = await KeyAsync("attacker");
        var store = _portal.Get<TradingStateStore>();

        for (var i = 0; i < 5; i++)
            await AssertForbiddenStrategyAsync(await attacker.PostOrderAsync(OrderRequests.Market($"hostile-{i}", 1_000m, strategyId: "victim")));

        Assert.Equal(TradingMode.Active, store.ModeFor("victim"));
        Assert.Equal(HttpStatusCode.Created, (await victim.PostOrderAsync(OrderRequests.Market("victim-still-trades", 1m, strategyId: "victim"))).StatusCode);
        // The same oversized orders under the attacker's own strategy do halt it: the control still works for its owner.
        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.UnprocessableEntity, (await attacker.PostOrderAsync(OrderRequests.Market($"own-big-{i}", 1_000m, strategyId: "attacker"))).StatusCode);
        await Poll.UntilAsync(() => store.ModeFor("attacker") == TradingMode.Halted, "the attacker's own strategy is auto-halted");
        Assert.Equal(TradingMode.Active, store.ModeFor("victim"));
    }

    /// <summary>
    /// Behind a load balancer each instance decides some of a strategy's orders: the oversized ones are counted in Postgres,
    /// not per instance (two on one instance and one on the other halted nothing, and a restart forgot the count).
    /// </summary>
    [Fact]
    public async Task Oversized_orders_spread_over_two_instances_halt_the_strategy_at_the_third()
    {
        await using var peer = await _portal.StartPeerAsync();
        peer.SetPrice("AAPL", 100m);
        var owner = await KeyAsync("spread");
        var ownerOnPeer = peer.CreateClient();
        ownerOnPeer.DefaultRequestHeaders.Authorization = owner.DefaultRequestHeaders.Authorization;
        var store = _portal.Get<TradingStateStore>();

        foreach (var (client, id) in new[] { (owner, "spread-1"), (ownerOnPeer, "spread-2") })
            Assert.Equal("MaxOrderValue", (await (await client.PostOrderAsync(OrderRequests.Market(id, 1_000m, strategyId: "spread"))).JsonAsync()).GetProperty("reason").GetString());
        Assert.Equal("MaxOrderValue", (await (await ownerOnPeer.PostOrderAsync(OrderRequests.Market("spread-3", 1_000m, strategyId: "spread"))).JsonAsync()).GetProperty("reason").GetString());

        await Poll.UntilAsync(() => store.ModeFor("spread") == TradingMode.Halted, "the third oversized order, on the other instance, halts the strategy");
        Assert.Contains("3 orders", store.Get(TradingScopes.ForStrategy("spread")).Reason);
    }

    /// <summary>The test limits allow 5 orders a minute per strategy and 5 globally; this key may send 3, over any strategies.</summary>
    [Fact]
    public async Task A_key_is_rate_limited_on_its_own_across_its_strategies()
    {
        var busy = await KeyAsync("k-a", "k-b", "k-c", "k-d");
        var other = await KeyAsync("k-e");

        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.Created, (await busy.PostOrderAsync(OrderRequests.Market($"key-{i}", 1m, strategyId: $"k-{(char)('a' + i)}"))).StatusCode);
        var refused = await busy.PostOrderAsync(OrderRequests.Market("key-3", 1m, strategyId: "k-d"));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        var problem = await refused.JsonAsync();
        Assert.Equal(nameof(RejectReason.MaxOrdersPerMinutePerKey), problem.GetProperty("reason").GetString());
        Assert.Equal(3m, problem.GetProperty("limit").GetDecimal());
        Assert.Equal(HttpStatusCode.Created, (await other.PostOrderAsync(OrderRequests.Market("other-key", 1m, strategyId: "k-e"))).StatusCode);
    }

    [Fact]
    public async Task FLUSHALL_does_not_give_a_key_a_fresh_allowance()
    {
        await using var redis = await RedisServer.StartNewAsync();
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?> { ["ApiKeys:MaxOrdersPerMinutePerKey"] = "2" }, redis.ConnectionString);
        portal.SetPrice("AAPL", 100m);
        var key = await portal.ClientWithKeyAsync([Scopes.Orders], ["f-a", "f-b", "f-c"]);
        Assert.Equal(HttpStatusCode.Created, (await key.PostOrderAsync(OrderRequests.Market("f-1", 1m, strategyId: "f-a"))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await key.PostOrderAsync(OrderRequests.Market("f-2", 1m, strategyId: "f-b"))).StatusCode);
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true");

        await admin.GetServers()[0].FlushAllDatabasesAsync();

        var refused = await key.PostOrderAsync(OrderRequests.Market("f-3", 1m, strategyId: "f-c"));
        Assert.Equal(nameof(RejectReason.MaxOrdersPerMinutePerKey), (await refused.JsonAsync()).GetProperty("reason").GetString());
    }
}
