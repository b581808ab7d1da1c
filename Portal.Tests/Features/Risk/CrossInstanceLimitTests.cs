using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Risk;

/// <summary>Two Portal instances on one Postgres and Redis decide against one account: a limit holds across them.</summary>
public sealed class CrossInstanceLimitTests
{
    /// <summary>The issue's report: orders alternating between two instances each accepted, the position beyond MaxPositionSizeUsd.</summary>
    [Fact]
    public async Task Orders_alternating_between_two_instances_never_take_a_position_beyond_its_limit()
    {
        await using var a = await PortalFactory.StartAsync();
        await using var b = await a.StartPeerAsync();
        a.SetPrice("AAPL", 100m);
        b.SetPrice("AAPL", 100m);
        var clientA = await a.ClientWithScopesAsync(Scopes.Orders);
        var clientB = await b.ClientWithScopesAsync(Scopes.Orders);

        // $4,000 each against MaxPositionSizeUsd $10,000: two fit, a third does not, whichever instance takes it.
        var answers = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var response = await (i % 2 == 0 ? clientA : clientB).PostOrderAsync(OrderRequests.Market($"alt-{i}", 40m));
            answers.Add($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        var held = await OrderRequests.ScalarAsync(a.AppConnectionString, "select coalesce(sum(quantity), 0)::bigint from paper_positions where symbol = 'AAPL'");
        Assert.True(held * 100 <= 10_000, $"the joint position is ${held * 100} against a $10,000 limit ({string.Join(", ", answers)})");
        Assert.True(2 == await OrderRequests.ScalarAsync(a.AppConnectionString, "select count(*) from orders where decision = 'accepted'"), string.Join("\n", answers));
    }

    [Fact]
    public async Task A_halt_with_flatten_on_instance_B_closes_a_position_opened_through_instance_A()
    {
        await using var a = await PortalFactory.StartAsync();
        await using var b = await a.StartPeerAsync();
        a.SetPrice("AAPL", 100m);
        b.SetPrice("AAPL", 100m);
        var clientA = await a.ClientWithScopesAsync(Scopes.Orders);
        Assert.Equal(System.Net.HttpStatusCode.Created, (await clientA.PostOrderAsync(OrderRequests.Market("opened-on-a", 10m))).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.Created, (await clientA.PostOrderAsync(OrderRequests.Limit("resting-on-a", 5m, 98m))).StatusCode);

        var result = await b.Get<KillSwitch>().HaltAsync("flatten drill across instances", HaltMode.Flatten, null, "test", automatic: false, CancellationToken.None);

        Assert.Empty(result.Failures);
        Assert.Equal(1, result.ClosedPositions);
        Assert.Equal(1, result.CancelledOrders);
        Assert.Equal(0, await OrderRequests.ScalarAsync(a.AppConnectionString, "select count(*) from paper_positions where quantity <> 0"));
        Assert.Equal(0, await OrderRequests.ScalarAsync(a.AppConnectionString, "select count(*) from paper_orders where status in ('new', 'partially_filled')"));
        Assert.Equal("canceled", await StatusAsync(a, "resting-on-a"));
    }

    private static async Task<string> StatusAsync(PortalFactory portal, string clientOrderId)
    {
        await using var connection = new Npgsql.NpgsqlConnection(portal.AppConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("select status from orders where client_order_id = $1", connection) { Parameters = { new() { Value = clientOrderId } } };
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
