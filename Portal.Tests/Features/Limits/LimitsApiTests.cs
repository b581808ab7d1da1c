using System.Net;
using System.Net.Http.Json;
using Portal.Features.Auth;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Limits;

public sealed class LimitsApiTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync();
        _portal.SetPrice("AAPL", 100m);
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task A_lowered_limit_is_versioned_and_enforced_on_the_next_order()
    {
        var admin = await _portal.ClientWithScopesAsync(Scopes.Limits);
        var orders = await _portal.ClientWithScopesAsync(Scopes.Orders);

        var put = await admin.PutAsJsonAsync("/api/limits", new { reason = "tighten for test", limits = new { MaxOrderValueUsd = 250m } });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(250m, (await put.JsonAsync()).GetProperty("limits").GetProperty("maxOrderValueUsd").GetDecimal());

        var refused = await orders.PostOrderAsync(OrderRequests.Market("after-change", 3m));
        Assert.Equal("MaxOrderValue", (await refused.JsonAsync()).GetProperty("reason").GetString());
        Assert.Equal(HttpStatusCode.Created, (await orders.PostOrderAsync(OrderRequests.Market("within", 2m))).StatusCode);

        var history = await (await admin.GetAsync("/api/limits/history")).JsonAsync();
        Assert.Equal(2, history.GetArrayLength());
        Assert.Equal("tighten for test", history[0].GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Values_above_a_ceiling_or_out_of_range_get_400_naming_each_field_and_change_nothing()
    {
        var admin = await _portal.ClientWithScopesAsync(Scopes.Limits);
        var before = await (await admin.GetAsync("/api/limits")).JsonAsync();

        var response = await admin.PutAsJsonAsync("/api/limits", new
        {
            reason = "bad",
            limits = new { MaxOrderValueUsd = 1_000_000m, MaxDrawdownPct = -0.1m, MaxOpenPositions = 2.5m, Unknown = 1 },
        });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.JsonAsync()).GetProperty("errors");
        Assert.Contains("ceiling", errors.GetProperty("limits.maxOrderValueUsd")[0].GetString());
        Assert.True(errors.TryGetProperty("limits.unknown", out _));
        var after = await (await admin.GetAsync("/api/limits")).JsonAsync();
        Assert.Equal(before.GetProperty("version").GetInt64(), after.GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task Changing_limits_needs_the_limits_scope()
    {
        var orders = await _portal.ClientWithScopesAsync(Scopes.Orders);
        var response = await orders.PutAsJsonAsync("/api/limits", new { reason = "x", limits = new { MaxOrderValueUsd = 1m } });
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }
}
