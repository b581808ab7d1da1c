using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Features.Live;
using Portal.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Portal.Tests.Features.Live;

public sealed class LiveEventsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_decision_on_one_instance_reaches_the_other_instances_views_and_hub_clients()
    {
        await using var a = await PortalFactory.StartAsync();
        await using var b = await a.StartPeerAsync();
        b.SetPrice("AAPL", 100m);
        var seenOnA = new ConcurrentDictionary<string, DateTimeOffset>();
        a.Get<OpsEventBus>().Received += e =>
        {
            if (e.Type == OpsEventTypes.OrderDecision) seenOnA[e.Data.GetProperty("clientOrderId").GetString()!] = DateTimeOffset.UtcNow;
        };

        var (key, _) = await a.Get<ApiKeyService>().CreateAsync("wall-screen", [Scopes.Orders]);
        var hubMessages = new ConcurrentQueue<JsonElement>();
        await using var hub = new HubConnectionBuilder()
            .WithUrl(new Uri(a.Server.BaseAddress, LiveSetup.HubPath), o =>
            {
                o.HttpMessageHandlerFactory = _ => a.Server.CreateHandler();
                o.Transports = HttpTransportType.LongPolling;
                o.AccessTokenProvider = () => Task.FromResult<string?>(key);
            })
            .Build();
        hub.On<JsonElement>(OpsEventTypes.OrderDecision, e => hubMessages.Enqueue(e));
        await hub.StartAsync();

        var orders = await b.ClientWithScopesAsync(Scopes.Orders);
        var sent = DateTimeOffset.UtcNow;
        await orders.PostOrderAsync(OrderRequests.Market("live-1", 1m));

        await Poll.UntilAsync(() => seenOnA.ContainsKey("live-1"), "instance A's views get B's decision");
        output.WriteLine($"Decision on B seen on A's event stream {(seenOnA["live-1"] - sent).TotalMilliseconds:0} ms after the request was sent.");
        await Poll.UntilAsync(() => hubMessages.Any(m => m.GetProperty("data").GetProperty("clientOrderId").GetString() == "live-1"), "the hub client on A gets it");
        Assert.Single(hubMessages, m => m.GetProperty("data").GetProperty("clientOrderId").GetString() == "live-1");
    }

    /// <summary>
    /// An instance that starts while Redis is down subscribes when Redis comes back. It subscribed only while starting, so
    /// it never showed another instance's events at all, and its failed subscription collected them unread.
    /// </summary>
    [Fact]
    public async Task An_instance_started_while_Redis_was_down_gets_the_other_instances_events_once_Redis_is_back()
    {
        await using var redis = await RedisServer.StartNewAsync();
        await using var a = await PortalFactory.StartAsync(redisConnection: redis.ConnectionString);
        a.SetPrice("AAPL", 100m);
        redis.Kill();
        await using var b = await a.StartPeerAsync(waitUntilReady: false);
        var seenOnB = new ConcurrentDictionary<string, bool>();
        b.Get<OpsEventBus>().Received += e =>
        {
            if (e.Type == OpsEventTypes.OrderDecision) seenOnB[e.Data.GetProperty("clientOrderId").GetString()!] = true;
        };

        await redis.StartAsync();
        await b.WaitUntilReadyAsync();
        var orders = await a.ClientWithScopesAsync(Scopes.Orders);
        var sent = 0;
        // Decisions keep coming from A (refused while it is still in safe mode, accepted after): B must get one of them.
        await Poll.UntilAsync(async () =>
        {
            await orders.PostOrderAsync(OrderRequests.Market($"after-restart-{++sent}", 1m));
            return !seenOnB.IsEmpty;
        }, "instance B, started while Redis was down, gets A's decisions", TimeSpan.FromSeconds(30));
        Assert.All(seenOnB.Keys, id => Assert.StartsWith("after-restart-", id, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_hub_refuses_anonymous_clients()
    {
        await using var portal = await PortalFactory.StartAsync();
        await using var hub = new HubConnectionBuilder()
            .WithUrl(new Uri(portal.Server.BaseAddress, LiveSetup.HubPath), o =>
            {
                o.HttpMessageHandlerFactory = _ => portal.Server.CreateHandler();
                o.Transports = HttpTransportType.LongPolling;
            })
            .Build();
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => hub.StartAsync());
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, error.StatusCode);
    }

    private static HubConnection HubFor(PortalFactory portal, string key) => new HubConnectionBuilder()
        .WithUrl(new Uri(portal.Server.BaseAddress, LiveSetup.HubPath), o =>
        {
            o.HttpMessageHandlerFactory = _ => portal.Server.CreateHandler();
            o.Transports = HttpTransportType.LongPolling;
            o.AccessTokenProvider = () => Task.FromResult<string?>(key);
        })
        .Build();

    private static ConcurrentQueue<string> RecordEventTypes(HubConnection hub)
    {
        var seen = new ConcurrentQueue<string>();
        foreach (var type in new[]
                 {
                     OpsEventTypes.OrderDecision, OpsEventTypes.OrderUpdate, OpsEventTypes.TradingState, OpsEventTypes.HaltProgress,
                     OpsEventTypes.SafeMode, OpsEventTypes.Limits, OpsEventTypes.Alert, OpsEventTypes.MarketData, OpsEventTypes.ModelDrift,
                 })
            hub.On<JsonElement>(type, _ => seen.Enqueue(type));
        return seen;
    }

    [Fact]
    public async Task A_ticks_only_key_gets_the_public_trading_state_but_no_order_decisions()
    {
        await using var portal = await PortalFactory.StartAsync();
        portal.SetPrice("AAPL", 100m);
        var (ticksKey, _) = await portal.Get<ApiKeyService>().CreateAsync("ticks-feed", [Scopes.Ticks]);
        var (ordersKey, _) = await portal.Get<ApiKeyService>().CreateAsync("order-screen", [Scopes.Orders]);
        await using var ticksHub = HubFor(portal, ticksKey);
        await using var ordersHub = HubFor(portal, ordersKey);
        var ticksSeen = RecordEventTypes(ticksHub);
        var ordersSeen = RecordEventTypes(ordersHub);
        await ticksHub.StartAsync();
        await ordersHub.StartAsync();

        var orders = await portal.ClientWithScopesAsync(Scopes.Orders);
        await orders.PostOrderAsync(OrderRequests.Market("filtered-1", 1m));
        await Poll.UntilAsync(() => ordersSeen.Contains(OpsEventTypes.OrderDecision), "the orders key's connection gets the decision");
        var pager = await portal.ClientWithScopesAsync(Scopes.Halt);
        (await pager.PostAsJsonAsync("/api/emergency/stop", new { reason = "hub filter test", mode = "halt" })).EnsureSuccessStatusCode();

        // The halt comes after the decision: once the ticks key's connection has the halt, a decision sent to it would have arrived.
        await Poll.UntilAsync(() => ticksSeen.Contains(OpsEventTypes.TradingState), "the ticks key's connection gets the trading state");
        await Poll.UntilAsync(() => ordersSeen.Contains(OpsEventTypes.TradingState), "the orders key's connection gets the trading state");
        Assert.DoesNotContain(OpsEventTypes.OrderDecision, ticksSeen);
        Assert.DoesNotContain(OpsEventTypes.OrderUpdate, ticksSeen);
        Assert.DoesNotContain(OpsEventTypes.Limits, ticksSeen);
    }

    [Fact]
    public async Task A_revoked_keys_hub_connection_is_closed()
    {
        await using var portal = await PortalFactory.StartAsync();
        var (key, _) = await portal.Get<ApiKeyService>().CreateAsync("wall-screen-revoked", [Scopes.Orders]);
        await using var hub = HubFor(portal, key);
        var closed = new TaskCompletionSource();
        hub.Closed += _ => { closed.TrySetResult(); return Task.CompletedTask; };
        await hub.StartAsync();

        Assert.True(await portal.Get<ApiKeyService>().RevokeAsync("wall-screen-revoked"));

        await Poll.UntilAsync(() => closed.Task.IsCompleted, "the server closes the revoked key's connection");
        Assert.Equal(HubConnectionState.Disconnected, hub.State);
        await Assert.ThrowsAsync<HttpRequestException>(() => hub.StartAsync());
    }

    [Fact]
    public async Task An_expired_keys_hub_connection_is_closed()
    {
        await using var portal = await PortalFactory.StartAsync();
        var (key, _) = await portal.Get<ApiKeyService>().CreateAsync("wall-screen-expiring", [Scopes.Orders], expiresAt: DateTimeOffset.UtcNow.AddSeconds(10));
        await using var hub = HubFor(portal, key);
        var closed = new TaskCompletionSource();
        hub.Closed += _ => { closed.TrySetResult(); return Task.CompletedTask; };
        await hub.StartAsync();

        await Poll.UntilAsync(() => closed.Task.IsCompleted, "the server closes the expired key's connection", TimeSpan.FromSeconds(40));
        await Assert.ThrowsAsync<HttpRequestException>(() => hub.StartAsync());
    }

    [Fact]
    public async Task A_demoted_persons_hub_connection_is_closed()
    {
        await using var portal = await PortalFactory.StartAsync();
        var user = await portal.CreateUserAsync(Roles.OnCall);
        var client = await portal.SignInAsync(user);
        var cookie = (await client.GetAsync("/api/account/me")).RequestMessage!.Headers.GetValues("Cookie").Single();
        await using var hub = new HubConnectionBuilder()
            .WithUrl(new Uri(portal.Server.BaseAddress, LiveSetup.HubPath), o =>
            {
                o.HttpMessageHandlerFactory = _ => portal.Server.CreateHandler();
                o.Transports = HttpTransportType.LongPolling;
                o.Headers["Cookie"] = cookie;
            })
            .Build();
        var closed = new TaskCompletionSource();
        hub.Closed += _ => { closed.TrySetResult(); return Task.CompletedTask; };
        await hub.StartAsync();

        await using (var scope = portal.Services.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
            var identity = await users.FindByEmailAsync(user.Email);
            Assert.True((await users.RemoveFromRoleAsync(identity!, Roles.OnCall)).Succeeded);
        }

        await Poll.UntilAsync(() => closed.Task.IsCompleted, "the server closes the demoted person's connection");
    }
}
