using System.Net;
using Npgsql;
using Portal.Domain.Trading;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Features.Readiness;
using Portal.Features.Risk;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Halt;

/// <summary>The loss halt against the limits in force after the deployment phase's ceilings (boundaries: LossHaltTests).</summary>
public sealed class AutoHaltTests
{
    [Fact]
    public async Task In_small_live_a_daily_loss_beyond_its_50_dollar_cap_halts_everything_and_cancels_working_orders()
    {
        await using var portal = await PortalFactory.StartAsync();
        portal.SetPrice("AAPL", 100m);
        var orders = await portal.ClientWithScopesAsync(Scopes.Orders);
        Assert.Equal(HttpStatusCode.Created, (await orders.PostOrderAsync(OrderRequests.Limit("resting-before-the-loss", 1m, 99m))).StatusCode);
        var risk = portal.Get<RiskBook>();
        await Poll.UntilAsync(() => risk.IsReady, "the risk book has read the account and the equity marks");

        await OwnerExecuteAsync(portal, "update deployment_phase set phase = 'small_live', version = version + 1 where id = 1");
        Assert.Equal(DeploymentPhase.SmallLive, (await portal.Get<DeploymentPhaseStore>().LoadAsync(CancellationToken.None)).Phase);
        // Equity 60 below the day's start: beyond Small Live's $50 cap, far within the operational $2,000.
        var account = risk.Snapshot!;
        await OwnerExecuteAsync(portal, "update paper_account set cash = cash - $1 where id = 1", account.Equity - account.DayStartEquity + 60m);

        var store = portal.Get<TradingStateStore>();
        await Poll.UntilAsync(() => store.Get(TradingScopes.Global).Mode == TradingMode.Halted, "the loss halts trading", TimeSpan.FromSeconds(30));
        var halt = store.Get(TradingScopes.Global);
        Assert.Equal(AutoHaltMonitor.Actor, halt.ChangedBy);
        Assert.Equal("auto: daily loss $60.00 beyond the limit $50.00", halt.Reason);
        await Poll.UntilAsync(async () => await OrderRequests.ScalarAsync(portal.AppConnectionString,
            "select count(*) from paper_orders where status in ('new', 'partially_filled')") == 0, "the halt (LossHaltMode cancel) cancels the working order");
    }

    private static async Task OwnerExecuteAsync(PortalFactory portal, string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(portal.OwnerConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var p in parameters) command.Parameters.AddWithValue(p);
        await command.ExecuteNonQueryAsync();
    }
}
