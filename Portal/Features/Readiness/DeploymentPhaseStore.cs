using Npgsql;
using Portal.Domain.Risk;

namespace Portal.Features.Readiness;

/// <summary>The phase in force as stored in <c>deployment_phase</c>, and who set it.</summary>
public sealed record DeploymentPhaseView(DeploymentPhase Phase, string Reason, string ChangedBy, DateTimeOffset ChangedAt, long Version)
{
    public string Name => DeploymentPhases.Format(Phase);
    public string Title => DeploymentPhases.Title(Phase);
}

/// <summary>
/// The deployment phase in force, held in memory for the order path (its ceilings cap every decision) and the
/// Alpaca adapter (no live URL in Paper), re-read from Postgres every second so every instance follows a change.
/// Until it has been read the phase counts as Paper: the most cautious for the broker, and no extra ceilings
/// that a phase read a moment later could only lower.
/// </summary>
public sealed class DeploymentPhaseStore(NpgsqlDataSource db, ILogger<DeploymentPhaseStore> logger) : BackgroundService
{
    private volatile DeploymentPhaseView? _current;
    private volatile CapEntry? _capCache;

    public DeploymentPhaseView? Current => _current;

    public DeploymentPhase Phase => _current?.Phase ?? DeploymentPhase.Paper;

    /// <summary>The limits with the current phase's ceilings applied; cached per limits version and phase.</summary>
    public RiskLimits Cap(RiskLimits limits)
    {
        var phase = Phase;
        if (_capCache is { } cached && ReferenceEquals(cached.Input, limits) && cached.Phase == phase) return cached.Capped;
        var capped = DeploymentPhases.Cap(limits, phase);
        _capCache = new CapEntry(limits, phase, capped);
        return capped;
    }

    public async Task<DeploymentPhaseView> LoadAsync(CancellationToken ct)
    {
        await using var command = db.CreateCommand("select phase, reason, changed_by, changed_at, version from deployment_phase where id = 1");
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) throw new InvalidOperationException("The deployment_phase row is missing; run the migrations.");
        var view = new DeploymentPhaseView(DeploymentPhases.Parse(reader.GetString(0)) ?? DeploymentPhase.Paper, reader.GetString(1), reader.GetString(2),
            reader.GetFieldValue<DateTimeOffset>(3), reader.GetInt64(4));
        _current = view;
        return view;
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await LoadAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
        {
            logger.LogWarning(ex, "Could not read the deployment phase at start; retrying in the background");
        }
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await LoadAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Could not refresh the deployment phase");
            }
        }
    }

    private sealed record CapEntry(RiskLimits Input, DeploymentPhase Phase, RiskLimits Capped);
}
