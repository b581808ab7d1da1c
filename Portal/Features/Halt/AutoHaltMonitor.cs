using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Portal.Components.Shared;
using Portal.Domain.Risk;
using Portal.Domain.Trading;
using Portal.Features.Limits;
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
    KillSwitch killSwitch, TradingStateStore store, RiskBook risk, LimitStore limits, DeploymentPhaseStore phases, SafeModeMonitor safeMode,
    IMarketClock market, IOptions<HaltOptions> options, TimeProvider clock, ILogger<AutoHaltMonitor> logger) : BackgroundService
{
    public const string Actor = "system:auto-halt";

    public static readonly Gauge SilenceHaltWithheld = Metrics.CreateGauge("portal_silence_halt_withheld",
        "1 while a market-data silence has outlasted TradingState:SilenceHaltThreshold but the market is closed, so trading is not halted.");
    private readonly ConcurrentDictionary<string, Queue<DateTimeOffset>> _orderValueBreaches = new(StringComparer.Ordinal);

    /// <summary>
    /// Called by the order path after each refusal. Only a sender allowed to trade <paramref name="strategyId"/> counts
    /// toward halting it: otherwise anyone could halt a victim strategy (and cancel its orders) by sending oversized
    /// orders under its id.
    /// </summary>
    public void OnRejected(string strategyId, string? reason, bool senderMayTradeStrategy)
    {
        // Readiness drills breach the max order value on purpose; halting (and paging for) the drill strategy would prove nothing.
        if (!senderMayTradeStrategy || reason != nameof(RejectReason.MaxOrderValue) || strategyId == RateCounter.DrillStrategyId) return;
        var now = clock.GetUtcNow();
        var window = _orderValueBreaches.GetOrAdd(strategyId, _ => new Queue<DateTimeOffset>());
        int count;
        lock (window)
        {
            window.Enqueue(now);
            while (window.Count > 0 && now - window.Peek() > options.Value.OrderValueBreachWindow) window.Dequeue();
            count = window.Count;
        }
        if (count < options.Value.OrderValueBreachesToHalt || store.ModeFor(strategyId) == TradingMode.Halted) return;
        _ = HaltAsync($"auto: {count} orders above the max order value within {Formats.Duration(options.Value.OrderValueBreachWindow)}", HaltMode.Cancel, strategyId);
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
