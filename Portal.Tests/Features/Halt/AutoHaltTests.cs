using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Portal.Domain.Trading;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Features.Readiness;
using Portal.Features.Risk;
using Portal.Infrastructure;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Halt;

/// <summary>The automatic halts in a running Portal: the loss halt against the limits in force after the deployment phase's
/// ceilings, and the silence halt (boundaries: LossHaltTests, SilenceHaltTests).</summary>
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

    [Fact]
    public async Task A_broker_silent_for_longer_than_the_silence_halt_threshold_halts_everything()
    {
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?>
        {
            ["TradingState:BrokerSilenceThreshold"] = "00:00:01",
            // Above the market-data threshold, as start-up requires; the test keeps the feed alive below.
            ["TradingState:MarketDataSilenceThreshold"] = "00:00:05",
            ["TradingState:SilenceHaltThreshold"] = "00:00:06",
        });
        var store = portal.Get<TradingStateStore>();
        Assert.Equal(TradingMode.Active, store.Get(TradingScopes.Global).Mode);

        // The broker stops answering: safe mode after 1 s, a halt after 6 s of silence in all.
        portal.Services.GetRequiredKeyedService<ConnectionCut>(ConnectionCut.Broker).Cut();

        var tick = 0;
        await Poll.UntilAsync(() =>
        {
            portal.SetPrice("AAPL", 100m + ++tick * 0.01m);
            return store.Get(TradingScopes.Global).Mode == TradingMode.Halted;
        }, "the silence halts trading", TimeSpan.FromSeconds(60));
        var halt = store.Get(TradingScopes.Global);
        Assert.Equal(AutoHaltMonitor.Actor, halt.ChangedBy);
        Assert.Equal("auto: broker-silent for longer than 6 seconds", halt.Reason);
        // It stays halted when the broker answers again: a halt is lifted by people, never by the cause going away.
        portal.Services.GetRequiredKeyedService<ConnectionCut>(ConnectionCut.Broker).Restore();
        await Poll.UntilAsync(() => portal.Get<SafeModeMonitor>().Reason is null, "safe mode clears with the broker back");
        Assert.Equal(TradingMode.Halted, store.Get(TradingScopes.Global).Mode);
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
