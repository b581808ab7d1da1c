using System.Net;
using System.Net.Http.Json;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Halt;

/// <summary>
/// Flatten liquidates the whole book: a pager's <c>halt</c> key may halt and cancel but never flatten; only a key with the
/// <c>flatten</c> scope or a RiskOfficer person may. A refused flatten changes nothing, not even a halt.
/// </summary>
public sealed class FlattenScopeTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;
    private HttpClient _orders = null!;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync();
        _portal.SetPrice("AAPL", 100m);
        _orders = await _portal.ClientWithScopesAsync(Scopes.Orders);
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    private Task<long> CountAsync(string sql) => OrderRequests.ScalarAsync(_portal.AppConnectionString, sql);

    private static Task<HttpResponseMessage> FlattenAsync(HttpClient client) =>
        client.PostAsJsonAsync("/api/emergency/stop", new { reason = "liquidate", mode = "flatten" });

    [Fact]
    public async Task A_halt_key_asking_to_flatten_gets_403_and_nothing_happens_not_even_a_halt()
    {
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Market("held-1", 3m))).StatusCode);
        var pager = await _portal.ClientWithScopesAsync(Scopes.Halt);

        var response = await FlattenAsync(pager);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("flatten", (await response.JsonAsync()).GetProperty("detail").GetString());
        Assert.Equal(1, await CountAsync("select count(*) from paper_positions"));
        Assert.Equal(0, await CountAsync("select count(*) from trading_state"));
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Market("still-trading", 1m))).StatusCode);
        // The same key still halts and cancels.
        Assert.Equal(HttpStatusCode.OK, (await pager.PostAsJsonAsync("/api/emergency/stop", new { reason = "page", mode = "cancel" })).StatusCode);
    }

    [Fact]
    public async Task A_flatten_key_flattens()
    {
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Market("held-2", 3m))).StatusCode);
        var flattener = await _portal.ClientWithScopesAsync(Scopes.Flatten);

        var response = await FlattenAsync(flattener);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, (await response.JsonAsync()).GetProperty("closedPositions").GetInt32());
        Assert.Equal(0, await CountAsync("select count(*) from paper_positions"));
    }

    [Fact]
    public async Task OnCall_may_halt_but_not_flatten_and_a_risk_officer_may_flatten()
    {
        Assert.Equal(HttpStatusCode.Created, (await _orders.PostOrderAsync(OrderRequests.Market("held-3", 3m))).StatusCode);
        var onCall = await _portal.ClientSignedInAsAsync(Roles.OnCall);

        Assert.Equal(HttpStatusCode.Forbidden, (await FlattenAsync(onCall)).StatusCode);
        Assert.Equal(1, await CountAsync("select count(*) from paper_positions"));
        Assert.Equal(0, await CountAsync("select count(*) from trading_state"));

        var officer = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        Assert.Equal(HttpStatusCode.OK, (await FlattenAsync(officer)).StatusCode);
        Assert.Equal(0, await CountAsync("select count(*) from paper_positions"));
    }
}
