using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Portal.Features.Auth;
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
}
