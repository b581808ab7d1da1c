using Npgsql;
using Portal.Features.Auth;
using Portal.Features.Orders;
using Portal.Features.Risk;
using Portal.Infrastructure.Postgres;

namespace Portal.Tests.Infrastructure.Postgres;

/// <summary>One unit that fails in a group-commit batch fails alone: the others commit without it, and orders go on being decided.</summary>
public sealed class GroupCommitIsolationTests
{
    private static NpgsqlBatchCommand InsertPosition(string symbol) =>
        new($"insert into paper_positions (symbol, quantity, avg_price, realized_pnl, updated_at) values ('{symbol}', 1, 1, 0, now())");

    [Fact]
    public async Task A_unit_that_violates_a_constraint_or_whose_decision_throws_fails_alone_and_the_broker_keeps_deciding()
    {
        await using var portal = await PortalFactory.StartAsync();
        portal.SetPrice("AAPL", 100m);
        var committer = portal.Get<GroupCommitter>();
        var authority = portal.Get<AccountAuthority>();

        // Holding the account lock makes the committer wait on a first decision, so everything queued behind it is one batch.
        await using var holder = new NpgsqlConnection(portal.AppConnectionString);
        await holder.OpenAsync();
        var hold = await holder.BeginTransactionAsync();
        await using (var lockIt = new NpgsqlCommand("select id from risk_account where id = 1 for update", holder, hold)) await lockIt.ExecuteNonQueryAsync();
        var first = committer.CommitAsync(authority.Unit(AccountReads.None, _ => new UnitPlan([InsertPosition("ISO0")], [])));
        await Poll.UntilAsync(async () => await OrderRequests.ScalarAsync(portal.AppConnectionString,
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like '%risk_account%'") == 1, "the committer waits for the account lock");
        var good1 = committer.CommitAsync(new PgWork(InsertPosition("ISO1")));
        var duplicate = committer.CommitAsync(new PgWork(InsertPosition("ISO2"), InsertPosition("ISO2")));
        var throwing = committer.CommitAsync(authority.Unit(AccountReads.None, _ => throw new InvalidOperationException("a bad decision")));
        var good2 = committer.CommitAsync(authority.Unit(AccountReads.None, _ => new UnitPlan([InsertPosition("ISO3")], [])));
        await hold.CommitAsync();

        await Task.WhenAll(first, good1, good2);
        var violation = await Assert.ThrowsAsync<PostgresException>(() => duplicate);
        Assert.Equal(PostgresErrorCodes.UniqueViolation, violation.SqlState);
        Assert.Equal("a bad decision", (await Assert.ThrowsAsync<InvalidOperationException>(() => throwing)).Message);
        Assert.Equal(3, await OrderRequests.ScalarAsync(portal.AppConnectionString, "select count(*) from paper_positions where symbol in ('ISO0', 'ISO1', 'ISO3')"));
        Assert.Equal(0, await OrderRequests.ScalarAsync(portal.AppConnectionString, "select count(*) from paper_positions where symbol = 'ISO2'"));

        // Nothing to reload: the next order is decided and filled at once.
        var orders = await portal.ClientWithScopesAsync(Scopes.Orders);
        var response = await orders.PostOrderAsync(OrderRequests.Market("after-the-failure", 1m));
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("filled", (await response.JsonAsync()).GetProperty("status").GetString());
    }

    private static OrderRow Decision(string clientOrderId) => new()
    {
        Id = Guid.CreateVersion7(), ClientOrderId = clientOrderId, RequestHash = [1], StrategyId = "s1", Symbol = "AAPL", Side = "buy",
        Quantity = 1m, OrderType = "market", TimeInForce = "day", Decision = "rejected", Reason = "TradingHalted", Status = OrderStatuses.Rejected,
        Actor = "test", CreatedAt = DateTimeOffset.UtcNow,
    };

    private static PgWork SetRowUnit(AccountAuthority authority, string clientOrderId) =>
        authority.Unit(AccountReads.None, _ => new UnitPlanBuilder { Rows = { OrdersTable.Instance.Row(Decision(clientOrderId)) } }.Build());

    /// <summary>
    /// A batch's rows of a table go in one statement, so PostgreSQL's refusal of one row names no unit: the batch is then
    /// retried unit by unit, and only the unit whose row is refused fails.
    /// </summary>
    [Fact]
    public async Task A_unit_whose_set_row_violates_a_constraint_fails_alone_and_the_rows_of_the_others_commit()
    {
        await using var portal = await PortalFactory.StartAsync();
        var committer = portal.Get<GroupCommitter>();
        var authority = portal.Get<AccountAuthority>();
        await committer.CommitAsync(SetRowUnit(authority, "taken"));

        await using var holder = new NpgsqlConnection(portal.AppConnectionString);
        await holder.OpenAsync();
        var hold = await holder.BeginTransactionAsync();
        await using (var lockIt = new NpgsqlCommand("select id from risk_account where id = 1 for update", holder, hold)) await lockIt.ExecuteNonQueryAsync();
        var first = committer.CommitAsync(SetRowUnit(authority, "row-0"));
        await Poll.UntilAsync(async () => await OrderRequests.ScalarAsync(portal.AppConnectionString,
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like '%risk_account%'") == 1, "the committer waits for the account lock");
        var good1 = committer.CommitAsync(SetRowUnit(authority, "row-1"));
        var colliding = committer.CommitAsync(SetRowUnit(authority, "taken"));
        var good2 = committer.CommitAsync(SetRowUnit(authority, "row-2"));
        await hold.CommitAsync();

        await Task.WhenAll(first, good1, good2);
        Assert.Equal(PostgresErrorCodes.UniqueViolation, (await Assert.ThrowsAsync<PostgresException>(() => colliding)).SqlState);
        Assert.Equal(3, await OrderRequests.ScalarAsync(portal.AppConnectionString, "select count(*) from orders where client_order_id like 'row-%'"));
        Assert.Equal(1, await OrderRequests.ScalarAsync(portal.AppConnectionString, "select count(*) from orders where client_order_id = 'taken'"));
    }
}
