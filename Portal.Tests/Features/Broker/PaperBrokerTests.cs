using System.Net;
using System.Text.Json.Nodes;
using Portal.Domain.Broker;
using Portal.Features.Auth;
using Portal.Features.Broker;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Broker;

public sealed class PaperBrokerTests
{
    [Fact]
    public async Task Without_its_account_row_the_paper_broker_answers_no_portfolio_rather_than_an_empty_account()
    {
        // On a fresh database the risk book's first sync can run before the paper account's row is created. Read as zero
        // cash, that empty account became the day's start equity: a gain of the whole account that hid every loss that day.
        await using var portal = await PortalFactory.StartAsync();
        await OrderRequests.ScalarAsync(portal.OwnerConnectionString, "with gone as (delete from paper_account returning 1) select count(*) from gone");

        var refused = await Assert.ThrowsAsync<BrokerException>(() => portal.Get<PaperBroker>().GetPortfolioAsync(CancellationToken.None));

        Assert.Equal(BrokerErrorKind.Unavailable, refused.Kind);
    }

    [Fact]
    public async Task A_resting_limit_order_fills_when_a_feeds_tick_on_another_instance_crosses_it_and_only_once()
    {
        // No demo market: the only prices are what the test and the feed send.
        await using var a = await PortalFactory.StartAsync();
        await using var b = await a.StartPeerAsync();
        a.SetPrice("AAPL", 100m);
        var orders = await a.ClientWithScopesAsync(Scopes.Orders);
        var resting = await orders.PostOrderAsync(OrderRequests.Limit("rest-1", 2m, 99.50m));
        Assert.Equal(HttpStatusCode.Created, resting.StatusCode);
        Assert.Equal("new", (await resting.JsonAsync()).GetProperty("status").GetString());

        var feed = await b.ClientWithScopesAsync(Scopes.Ticks);
        var tick = new JsonObject
        {
            ["symbol"] = "AAPL", ["price"] = 99.40m, ["bid"] = 99.39m, ["ask"] = 99.41m, ["size"] = 100m,
            ["timestamp"] = b.Get<TimeProvider>().GetUtcNow().ToString("O"),
        };
        var posted = await feed.PostAsync("/api/market-data/ticks",
            new StringContent(new JsonObject { ["ticks"] = new JsonArray(tick) }.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(1, (await posted.JsonAsync()).GetProperty("accepted").GetInt32());

        // B hears the tick from its feed and A from B: both look for orders to fill; the order fills once, at most at its limit.
        await Poll.UntilAsync(async () => (await (await orders.GetAsync("/api/orders/rest-1")).JsonAsync()).GetProperty("status").GetString() == "filled",
            "the resting order fills");
        var filled = await (await orders.GetAsync("/api/orders/rest-1")).JsonAsync();
        Assert.Equal(2m, filled.GetProperty("filledQuantity").GetDecimal());
        Assert.True(filled.GetProperty("avgFillPrice").GetDecimal() <= 99.50m);
        Assert.Equal(1, await OrderRequests.ScalarAsync(a.AppConnectionString,
            "select count(*) from paper_fills f join paper_orders o on o.broker_order_id = f.broker_order_id where o.client_order_id = 'rest-1'"));
        Assert.Equal(2, await OrderRequests.ScalarAsync(a.AppConnectionString, "select quantity::bigint from paper_positions where symbol = 'AAPL'"));
    }
}
