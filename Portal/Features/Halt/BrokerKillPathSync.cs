using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Domain.Audit;
using Portal.Domain.Broker;
using Portal.Domain.Trading;
using Portal.Features.Audit;
using Portal.Infrastructure.Postgres;
using Prometheus;

namespace Portal.Features.Halt;

/// <summary>
/// The second kill path: a global halt also engages the broker's own kill switch (Alpaca's <c>suspend_trade</c>), so an
/// order sent around Portal is refused at the broker too. Checked at start-up, after every change of the global state
/// and every <see cref="HaltOptions.BrokerKillPathInterval"/> on each instance:
/// <list type="bullet">
/// <item>halted and not engaged: engage it (a tightening, done even when Postgres is down), then record in
/// <c>broker_kill_path</c> that Portal engaged it. The halting instance does this itself (<see cref="EngageForHaltAsync"/>);
/// the checks engage only a halt older than <see cref="HaltOptions.BrokerKillPathAllowance"/>, so a flatten's closing
/// orders are not refused by the switch;</item>
/// <item>not halted and engaged by Portal: release it, only under the row's lock and only if Postgres also says the
/// global scope is not halted, with its audit record in that transaction;</item>
/// <item>not halted and engaged by anyone else: left as it is, and <see cref="Mismatch"/> holds Portal in safe mode
/// (the broker refuses orders; Portal says why instead of sending them).</item>
/// </list>
/// Two instances deciding at once: a release holds the row lock; an engage records its row only after its halt is in
/// Postgres, so its record waits for any release in progress, and it then checks the switch again
/// (docs/alpaca.md, "The second kill path"). Without a broker kill path (the paper broker) this does nothing.
/// </summary>
public sealed class BrokerKillPathSync(
    TradingStateStore tradingState, NpgsqlDataSource db, AuditTrail audit, AlertPublisher alerts, IOptions<HaltOptions> options,
    TimeProvider clock, ILogger<BrokerKillPathSync> logger, IBrokerKillPath? killPath = null) : BackgroundService
{
    private const string Actor = "system:broker-kill-path";
    private static readonly Gauge Engaged = Metrics.CreateGauge("portal_broker_kill_path_engaged",
        "1 while the broker's own kill switch (Alpaca's suspend_trade) is engaged, as last read from the broker.");
    private static readonly Gauge MismatchGauge = Metrics.CreateGauge("portal_broker_kill_path_mismatch",
        "1 while the broker's kill switch is engaged by someone other than Portal and no global halt is in force.");

    private readonly SemaphoreSlim _checkRequested = new(0, 1);
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);

    /// <summary>Why the broker refuses orders though Portal is not halted, or null.</summary>
    public string? Mismatch { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (killPath is null) return;
        tradingState.Changed += OnTradingStateChanged;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await SyncAsync(stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    logger.LogWarning("The broker's kill path could not be checked: {Error}", ex.Message);
                }
                await _checkRequested.WaitAsync(options.Value.BrokerKillPathInterval, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            tradingState.Changed -= OnTradingStateChanged;
        }
    }

    private void OnTradingStateChanged(TradingStateEntry entry)
    {
        if (entry.Scope != TradingScopes.Global) return;
        try { _checkRequested.Release(); } catch (SemaphoreFullException) { /* a check is already due */ }
    }

    /// <summary>For the instance that halted, once its halt is in Postgres (and a flatten's closing orders are sent): engage now.</summary>
    public Task EngageForHaltAsync(CancellationToken ct) => SyncAsync(engageNow: true, ct);

    /// <summary>Brings the broker's switch in line with the global state; throws when it could not (the loop retries).</summary>
    public Task SyncAsync(CancellationToken ct) => SyncAsync(engageNow: false, ct);

    /// <param name="engageNow">
    /// Otherwise a halt is engaged only once it is older than <see cref="HaltOptions.BrokerKillPathAllowance"/>: the halting
    /// instance engages it itself, after a flatten's closing orders (which the switch would refuse) are sent; the checks
    /// here are the backstop when it could not.
    /// </param>
    private async Task SyncAsync(bool engageNow, CancellationToken ct)
    {
        if (killPath is null) return;
        await _oneAtATime.WaitAsync(ct);
        try
        {
            var global = tradingState.Get(TradingScopes.Global);
            if (global.Mode != TradingMode.Halted) await ReleaseLockedAsync(ct);
            else if (engageNow || clock.GetUtcNow() - global.ChangedAt >= options.Value.BrokerKillPathAllowance) await EngageLockedAsync(ct);
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    private bool GlobalHalted => tradingState.Get(TradingScopes.Global).Mode == TradingMode.Halted;

    private async Task EngageLockedAsync(CancellationToken ct)
    {
        var engaged = await killPath!.IsEngagedAsync(ct);
        if (!engaged)
        {
            engaged = await killPath.SetEngagedAsync(true, ct);
            if (!engaged) throw new BrokerException(BrokerErrorKind.Unavailable, "kill_path_not_engaged", $"{killPath.Broker} still reports trading not suspended.");
            logger.LogCritical("Trading suspended at the broker ({Broker}) for the global halt", killPath.Broker);
            _ = audit.AppendEventuallyAsync(AuditEventDraft.Create(clock.GetUtcNow(), Actor, "broker.kill_path_engaged", TradingScopes.Global,
                new { broker = killPath.Broker, halt = tradingState.Get(TradingScopes.Global).Reason }));
        }
        Observe(engaged, mismatch: null);
        await RecordEngagedByPortalAsync(ct);
        // A release by another instance that read the state before this halt may have run meanwhile: it held the row lock
        // the record above waited for.
        if (!await killPath.IsEngagedAsync(ct) && GlobalHalted)
        {
            Observe(await killPath.SetEngagedAsync(true, ct), mismatch: null);
            logger.LogWarning("The broker's kill switch was released during the global halt and has been engaged again");
        }
    }

    private async Task RecordEngagedByPortalAsync(CancellationToken ct)
    {
        await using var command = db.CreateCommand("""
            insert into broker_kill_path (broker, engaged_by_portal, changed_at) values ($1, true, $2)
            on conflict (broker) do update set engaged_by_portal = true, changed_at = $2 where not broker_kill_path.engaged_by_portal
            """);
        command.Parameters.AddWithValue(killPath!.Broker);
        command.Parameters.AddWithValue(clock.GetUtcNow());
        await command.ExecuteNonQueryAsync(ct);
    }

    private async Task ReleaseLockedAsync(CancellationToken ct)
    {
        if (!await killPath!.IsEngagedAsync(ct))
        {
            Observe(false, mismatch: null);
            return;
        }
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var ensure = new NpgsqlCommand(
            "insert into broker_kill_path (broker, engaged_by_portal, changed_at) values ($1, false, $2) on conflict do nothing", connection, transaction))
        {
            ensure.Parameters.AddWithValue(killPath.Broker);
            ensure.Parameters.AddWithValue(clock.GetUtcNow());
            await ensure.ExecuteNonQueryAsync(ct);
        }
        bool engagedByPortal;
        await using (var read = new NpgsqlCommand("select engaged_by_portal from broker_kill_path where broker = $1 for update", connection, transaction))
        {
            read.Parameters.AddWithValue(killPath.Broker);
            engagedByPortal = (bool)(await read.ExecuteScalarAsync(ct))!;
        }
        bool haltedInPostgres;
        await using (var state = new NpgsqlCommand("select exists (select 1 from trading_state where scope = $1 and mode = 'halted')", connection, transaction))
        {
            state.Parameters.AddWithValue(TradingScopes.Global);
            haltedInPostgres = (bool)(await state.ExecuteScalarAsync(ct))!;
        }
        if (haltedInPostgres || GlobalHalted)
        {
            // This instance has not heard of the halt yet; the engage follows on its next check.
            Observe(true, mismatch: null);
            return;
        }
        // Re-read under the lock: the switch may have been released meanwhile.
        if (!await killPath.IsEngagedAsync(ct))
        {
            Observe(false, mismatch: null);
            return;
        }
        if (!engagedByPortal)
        {
            Observe(true, $"{killPath.Broker} refuses new orders (its kill switch is engaged) and Portal did not engage it; clear it at the broker");
            return;
        }
        var released = !await killPath.SetEngagedAsync(false, ct);
        if (!released) throw new BrokerException(BrokerErrorKind.Unavailable, "kill_path_not_released", $"{killPath.Broker} still reports trading suspended.");
        await using (var update = new NpgsqlCommand("update broker_kill_path set engaged_by_portal = false, changed_at = $2 where broker = $1", connection, transaction))
        {
            update.Parameters.AddWithValue(killPath.Broker);
            update.Parameters.AddWithValue(clock.GetUtcNow());
            await update.ExecuteNonQueryAsync(ct);
        }
        await AuditChainWriter.AppendAsync(connection, transaction, [AuditEventDraft.Create(clock.GetUtcNow(), Actor, "broker.kill_path_released",
            TradingScopes.Global, new { broker = killPath.Broker, state = TradingModeText.Format(tradingState.Get(TradingScopes.Global).Mode) })], ct);
        await transaction.CommitAsync(ct);
        Observe(false, mismatch: null);
        logger.LogWarning("Trading no longer suspended at the broker ({Broker}): the global halt was resumed", killPath.Broker);
        alerts.Publish(AlertSeverity.Info, "broker.kill_path_released", $"{killPath.Broker}: suspend_trade cleared after the global halt was resumed.");
    }

    private void Observe(bool engaged, string? mismatch)
    {
        Engaged.Set(engaged ? 1 : 0);
        MismatchGauge.Set(mismatch is null ? 0 : 1);
        if (mismatch is not null && Mismatch is null) logger.LogCritical("Broker kill path mismatch: {Mismatch}", mismatch);
        Mismatch = mismatch;
    }
}
