using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Portal.Domain.Risk;
using Portal.Features.Live;
using Portal.Infrastructure.Postgres;

namespace Portal.Features.Limits;

/// <summary>
/// The operational limits in force: the newest active version in Postgres, held in memory for the
/// order path and refreshed from Postgres every second so other instances' changes arrive quickly.
/// </summary>
public sealed class LimitStore(
    IDbContextFactory<PortalDbContext> dbFactory, IOptions<RiskOptions> options, OpsEventBus live, TimeProvider clock, ILogger<LimitStore> logger)
    : BackgroundService
{
    private volatile LimitVersionView? _current;

    public RiskLimits Ceilings { get; } = options.Value.CeilingLimits();

    /// <summary>The limits in force; null until loaded, and the order path refuses orders until then.</summary>
    public LimitVersionView? Current => _current;

    public async Task<LimitVersionView> LoadAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var row = await db.LimitVersions.AsNoTracking().Where(v => v.State == "active")
            .OrderByDescending(v => v.Version).FirstOrDefaultAsync(ct);
        if (row is null)
        {
            row = NewVersion(options.Value.FirstOperationalLimits(), "Initial limits from configuration", "system");
            db.LimitVersions.Add(row);
            await db.SaveChangesAsync(ct);
        }
        var view = ToView(row);
        // Limits above a ceiling that was lowered since are clamped: the ceiling always wins.
        view = view with { Limits = Clamp(view.Limits) };
        _current = view;
        return view;
    }

    public async Task<LimitVersionView> ChangeAsync(RiskLimits proposed, string reason, string actor, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var row = NewVersion(proposed, reason, actor);
        db.LimitVersions.Add(row);
        await db.SaveChangesAsync(ct);
        var view = ToView(row);
        _current = view;
        live.Publish(OpsEventTypes.Limits, view);
        return view;
    }

    public async Task<IReadOnlyList<LimitVersionView>> HistoryAsync(int take, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rows = await db.LimitVersions.AsNoTracking().OrderByDescending(v => v.Version).Take(take).ToListAsync(ct);
        return rows.Select(ToView).ToList();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), clock);
        do
        {
            try
            {
                await LoadAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Could not refresh limits from Postgres; keeping version {Version}", _current?.Version);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private LimitVersion NewVersion(RiskLimits limits, string reason, string actor) => new()
    {
        LimitsJson = JsonSerializer.Serialize(limits),
        State = "active",
        Reason = reason,
        ProposedBy = actor,
        ProposedAt = clock.GetUtcNow(),
        ApprovedBy = actor,
        ApprovedAt = clock.GetUtcNow(),
    };

    private RiskLimits Clamp(RiskLimits limits)
    {
        var ceilings = Ceilings.Entries().ToDictionary(e => e.Name, e => e.Value);
        return RiskOptions.ToLimits(limits.Entries().ToDictionary(e => e.Name, e => Math.Min(e.Value, ceilings[e.Name])), null);
    }

    private static LimitVersionView ToView(LimitVersion row) => new(
        row.Version, JsonSerializer.Deserialize<RiskLimits>(row.LimitsJson)!, row.State, row.Reason,
        row.ProposedBy, row.ProposedAt, row.ApprovedBy, row.ApprovedAt);
}

public sealed record LimitVersionView(
    long Version, RiskLimits Limits, string State, string Reason, string ProposedBy, DateTimeOffset ProposedAt,
    string? ApprovedBy, DateTimeOffset? ApprovedAt);
