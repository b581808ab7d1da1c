using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Components.Shared;
using Portal.Domain.Risk;
using Portal.Domain.Trading;
using Portal.Features.Limits;
using Portal.Features.Orders;
using Portal.Features.Readiness;
using Portal.Features.Risk;
using Portal.Infrastructure.Redis;
using Prometheus;

namespace Portal.Features.Halt;

/// <summary>
/// Halts without a person: a daily/weekly loss or drawdown beyond its limit (phase-capped) halts everything (with
/// the configured cancel/flatten); a strategy that keeps sending orders above the max order value
/// is halted on its own (the seed's runaway strategy); broker or market-data silence that outlasts
/// safe mode's threshold by the second threshold becomes a halt, except market-data silence while the broker's market
/// clock says the market is closed (<see cref="IMarketClock"/>), which counts from the open instead.
/// </summary>
public sealed class AutoHaltMonitor(
    KillSwitch killSwitch, TradingStateStore store, NpgsqlDataSource db, RiskBook risk, LimitStore limits, DeploymentPhaseStore phases, SafeModeMonitor safeMode,
    IMarketClock market, IOptions<HaltOptions> options, TimeProvider clock, ILogger<AutoHaltMonitor> logger) : BackgroundService
{
    public const string Actor = "system:auto-halt";

    public static readonly Gauge SilenceHaltWithheld = Metrics.CreateGauge("portal_silence_halt_withheld",
        "1 while a market-data silence has outlasted TradingState:SilenceHaltThreshold but the market is closed, so trading is not halted.");
    /// <summary>
    /// Called by the order path after each refusal, once it is recorded. Only a sender allowed to trade the strategy counts
    /// toward halting it, and only its own refusals: otherwise anyone could halt a victim strategy (and cancel its orders)
    /// by sending oversized orders under its id. The refusals are counted in Postgres, where every instance records them:
    /// behind a load balancer each instance sees only some, and a restart forgot them.
    /// </summary>
    public async Task OnRejectedAsync(OrderRow refusal, bool senderMayTradeStrategy)
    {
        // Readiness drills breach the max order value on purpose; halting (and paging for) the drill strategy would prove nothing.
        if (!senderMayTradeStrategy || refusal.Reason != nameof(RejectReason.MaxOrderValue) || refusal.StrategyId == RateCounter.DrillStrategyId
            || store.ModeFor(refusal.StrategyId) == TradingMode.Halted) return;
        var window = options.Value.OrderValueBreachWindow;
        long count;
        try
        {
            await using var command = db.CreateCommand("""
                select count(*) from orders
                where strategy_id = $1 and actor = $2 and reason = 'MaxOrderValue' and created_at > $3
                """);
            command.Parameters.AddWithValue(refusal.StrategyId);
            command.Parameters.AddWithValue(refusal.Actor);
            // No upper bound: another instance's clock may run ahead, and its refusals count all the same.
            command.Parameters.AddWithValue(refusal.CreatedAt - window);
            count = (long)(await command.ExecuteScalarAsync())!;
        }
        catch (Exception ex)
        {
            // Nobody awaits this: whatever failed is logged here (the next oversized order counts again).
            logger.LogWarning("Oversized orders of {Strategy} not counted this time: {Error}", refusal.StrategyId, ex.Message);
            return;
        }
        if (count < options.Value.OrderValueBreachesToHalt || store.ModeFor(refusal.StrategyId) == TradingMode.Halted) return;
        await HaltAsync($"auto: {count} orders above the max order value within {Formats.Duration(window)}", HaltMode.Cancel, refusal.StrategyId);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (store.Get(TradingScopes.Global).Mode == TradingMode.Halted) continue;
            if (LossBreach() is { } lossReason) await HaltAsync(lossReason, options.Value.LossHaltMode, null);
            else if (SilenceBreach() is { } silenceReason) await HaltAsync(silenceReason, HaltMode.Halt, null);
        }
    }

    /// <summary>Against the limits the order path enforces: after the deployment phase's ceilings.</summary>
    private string? LossBreach() =>
        risk.Snapshot is { } account && limits.Current is { } current ? LossHalt.Breach(account, phases.Cap(current.Limits)) : null;

    private string? SilenceBreach()
    {
        (string, TimeSpan, bool)[] silences =
            [(SafeModeMonitor.BrokerSilent, options.Value.BrokerSilenceThreshold, false), (SafeModeMonitor.MarketDataSilent, options.Value.MarketDataSilenceThreshold, true)];
        var now = clock.GetUtcNow();
        var session = market.At(now);
        var breach = SilenceHalt.Breach(safeMode.Active, silences, options.Value.SilenceHaltThreshold, now, session);
        var withheld = breach is null && session.Closed
            && SilenceHalt.Breach(safeMode.Active, silences, options.Value.SilenceHaltThreshold, now, MarketSession.Unknown) is not null;
        if (withheld && !SilenceHaltIsWithheld) logger.LogInformation("Market data silent past the halt threshold, but the market is closed: not halting");
        SilenceHaltIsWithheld = withheld;
        SilenceHaltWithheld.Set(withheld ? 1 : 0);
        return breach;
    }

    /// <summary>True while a market-data silence would halt trading but for the closed market.</summary>
    public bool SilenceHaltIsWithheld { get; private set; }

    private async Task HaltAsync(string reason, HaltMode mode, string? strategyId)
    {
        try
        {
            await killSwitch.HaltAsync(reason, mode, strategyId, Actor, automatic: true, CancellationToken.None);
        }
        catch (Exception ex)
        {
            logger.LogCritical(ex, "Automatic halt failed: {Reason}", reason);
        }
    }
}
