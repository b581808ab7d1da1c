using Npgsql;
using Portal.Infrastructure.Postgres;

namespace Portal.Tests.Infrastructure.Postgres;

public sealed class GroupCommitterTests
{
    private static NpgsqlBatchCommand Add(string symbol) =>
        new($"update paper_positions set quantity = quantity + 1 where symbol = '{symbol}'");

    private static async Task ExecAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>What two instances' batches do to the paper account and positions when they lock them in different orders.</summary>
    [Fact]
    public async Task A_batch_chosen_as_the_deadlock_victim_is_run_again_and_commits()
    {
        await using var portal = await PortalFactory.StartAsync();
        await using var other = new NpgsqlConnection(portal.AppConnectionString);
        await other.OpenAsync();
        await ExecAsync(other, "insert into paper_positions (symbol, quantity, avg_price, realized_pnl, updated_at) values ('DLA', 1, 1, 0, now()), ('DLB', 1, 1, 0, now())");
        await using var transaction = await other.BeginTransactionAsync();
        await ExecAsync(other, "update paper_positions set quantity = 10 where symbol = 'DLB'");

        var work = portal.Get<GroupCommitter>().CommitAsync(new PgWork(Add("DLA"), Add("DLB")));
        await Poll.UntilAsync(async () => await OrderRequests.ScalarAsync(portal.AppConnectionString,
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like '%DLB%'") == 1, "the batch waits for DLB");
        // Closes the cycle; the batch has waited longer, so its deadlock check runs first and rolls it back.
        await ExecAsync(other, "update paper_positions set quantity = 20 where symbol = 'DLA'");
        await transaction.CommitAsync();

        await work;
        Assert.Equal(21, await OrderRequests.ScalarAsync(portal.AppConnectionString, "select quantity::bigint from paper_positions where symbol = 'DLA'"));
        Assert.Equal(11, await OrderRequests.ScalarAsync(portal.AppConnectionString, "select quantity::bigint from paper_positions where symbol = 'DLB'"));
    }

    /// <summary>The committer keeps one connection between batches; when the server ends it, the next batch gets a new one.</summary>
    [Fact]
    public async Task A_batch_after_the_committers_connection_was_terminated_commits_on_a_new_one()
    {
        await using var portal = await PortalFactory.StartAsync();
        var committer = portal.Get<GroupCommitter>();
        await OrderRequests.ScalarAsync(portal.AppConnectionString,
            "insert into paper_positions (symbol, quantity, avg_price, realized_pnl, updated_at) values ('TRM', 0, 1, 0, now()) returning 1");
        await committer.CommitAsync(new PgWork(Add("TRM")));

        // Every connection of the app to this test's database (the committer's among them), as a server restart would.
        // Waiting until each backend has exited: without the timeout the call returns once the signal is sent, and on a
        // busy machine the next batch then committed on the dying connection and the one after found it gone.
        var app = new NpgsqlConnectionStringBuilder(portal.AppConnectionString);
        var superuser = (await TestServices.GetAsync()).Postgres.ConnectionString(app.Database!);
        Assert.True(await OrderRequests.ScalarAsync(superuser,
            "select count(*) filter (where pg_terminate_backend(pid, 60000)) from pg_stat_activity where datname = current_database() and usename = $1", app.Username!) > 0);
        // The first batch may be the one that finds the connection gone (it fails, nothing acknowledged); the next commits.
        try
        {
            await committer.CommitAsync(new PgWork(Add("TRM")));
        }
        catch (NpgsqlException)
        {
        }
        await committer.CommitAsync(new PgWork(Add("TRM")));

        Assert.InRange(await OrderRequests.ScalarAsync(portal.OwnerConnectionString, "select quantity::bigint from paper_positions where symbol = 'TRM'"), 2, 3);
    }
}
