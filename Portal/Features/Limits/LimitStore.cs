using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Portal.Domain.Audit;
using Portal.Domain.Risk;
using Portal.Features.Live;
using Portal.Features.Audit;
using Portal.Infrastructure.Postgres;

namespace Portal.Features.Limits;

/// <summary>
/// The operational limits in force: the newest active version in Postgres, held in memory for the
/// order path and refreshed from Postgres every second so other instances' changes arrive quickly.
/// Every new version is audited (<c>limits.changed</c>: old → new, who) in the transaction that stores it.
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
        var row = await LatestActiveAsync(db, ct);
        if (row is null)
        {
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            await LockAsync(db, ct);
            // Another instance starting at the same moment may have written them while this one waited.
            row = await LatestActiveAsync(db, ct)
                ?? await SaveAuditedAsync(db, null, NewVersion(options.Value.FirstOperationalLimits(), "Initial limits from configuration", "system", LimitStates.Active, basedOn: null), ct);
            await transaction.CommitAsync(ct);
        }
        var view = ToView(row);
        // Limits above a ceiling that was lowered since are clamped: the ceiling always wins.
        view = view with { Limits = Clamp(view.Limits) };
        _current = view;
        return view;
    }

    /// <summary>
    /// Puts <paramref name="proposed"/> in force at once (no approval), unless the version it was built on,
    /// <paramref name="basedOn"/>, is no longer the one in force: it would silently undo the change made since.
    /// </summary>
    public async Task<LimitDecision> ChangeAsync(RiskLimits proposed, long basedOn, string reason, string actor, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        await LockAsync(db, ct);
        var active = await db.LimitVersions.Where(v => v.State == LimitStates.Active).ToListAsync(ct);
        if (active.MaxBy(v => v.Version) is not { } inForce || inForce.Version != basedOn)
            return new LimitDecision(LimitDecisionStatus.Stale);
        foreach (var previous in active) previous.State = LimitStates.Superseded;
        var row = await SaveAuditedAsync(db, ToView(inForce), NewVersion(proposed, reason, actor, LimitStates.Active, basedOn), ct);
        await transaction.CommitAsync(ct);
        var view = ToView(row);
        _current = view with { Limits = Clamp(view.Limits) };
        live.Publish(OpsEventTypes.Limits, view);
        return new LimitDecision(LimitDecisionStatus.Done, view);
    }

    /// <summary>
    /// Four-eyes: records <paramref name="proposed"/> as a pending version that a different RiskOfficer must approve. A change
    /// proposed with an API key names the key's owner in <paramref name="keyOwner"/>: they may not approve it either.
    /// <paramref name="basedOn"/> is the version it was built on: it can be approved only while that one is in force.
    /// </summary>
    public async Task<LimitVersionView> ProposeAsync(RiskLimits proposed, long basedOn, string reason, string actor, string? keyOwner, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var version = NewVersion(proposed, reason, actor, LimitStates.Pending, basedOn);
        version.KeyOwner = keyOwner;
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var row = await SaveAuditedAsync(db, _current, version, ct);
        await transaction.CommitAsync(ct);
        var view = ToView(row);
        live.Publish(OpsEventTypes.Limits, view);
        return view;
    }

    /// <summary>
    /// Puts a pending version in force if <paramref name="approver"/> is neither its proposer nor the owner of the key that proposed it, it still fits
    /// the ceilings, and the version it was built on is still the one in force (otherwise it would silently undo the change made since; versions,
    /// not the instances' clocks, decide).
    /// </summary>
    public Task<LimitDecision> ApproveAsync(long version, string approver, CancellationToken ct) =>
        DecideAsync(version, approver, approve: true, ct);

    public Task<LimitDecision> RejectAsync(long version, string rejecter, CancellationToken ct) =>
        DecideAsync(version, rejecter, approve: false, ct);

    public async Task<IReadOnlyList<LimitVersionView>> PendingAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rows = await db.LimitVersions.AsNoTracking().Where(v => v.State == LimitStates.Pending).OrderBy(v => v.Version).ToListAsync(ct);
        return rows.Select(ToView).ToList();
    }

    private async Task<LimitDecision> DecideAsync(long version, string decider, bool approve, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        await LockAsync(db, ct);
        var row = await db.LimitVersions.SingleOrDefaultAsync(v => v.Version == version, ct);
        if (row is null) return new LimitDecision(LimitDecisionStatus.NotFound);
        if (row.State != LimitStates.Pending) return new LimitDecision(LimitDecisionStatus.NotPending, ToView(row));
        if (approve)
        {
            if (SamePerson(row.ProposedBy, decider) || SamePerson(row.KeyOwner, decider)) return new LimitDecision(LimitDecisionStatus.SameOfficer, ToView(row));
            var errors = LimitRules.Validate(ToView(row).Limits, Ceilings);
            if (errors.Count > 0) return new LimitDecision(LimitDecisionStatus.Invalid, ToView(row), errors);
            var active = await db.LimitVersions.Where(v => v.State == LimitStates.Active).ToListAsync(ct);
            if (active.MaxBy(a => a.Version)?.Version != row.BasedOn) return new LimitDecision(LimitDecisionStatus.Stale, ToView(row));
            foreach (var previous in active) previous.State = LimitStates.Superseded;
        }
        row.State = approve ? LimitStates.Active : LimitStates.Rejected;
        row.ApprovedBy = decider;
        row.ApprovedAt = clock.GetUtcNow();
        await db.SaveChangesAsync(ct);
        await AuditTrail.AppendInTransactionAsync(db, [AuditEventDraft.Create(row.ApprovedAt.Value, decider, approve ? "limits.approved" : "limits.rejected", "limits",
            new { version = row.Version, proposedBy = row.ProposedBy, keyOwner = row.KeyOwner, reason = row.Reason })], ct);
        await transaction.CommitAsync(ct);
        var view = ToView(row);
        if (approve) _current = view with { Limits = Clamp(view.Limits) };
        live.Publish(OpsEventTypes.Limits, view);
        return new LimitDecision(LimitDecisionStatus.Done, view);
    }

    /// <summary>User names and emails are case-insensitive, as Identity normalizes them.</summary>
    private static bool SamePerson(string? a, string b) => a is not null && string.Equals(a.Trim(), b.Trim(), StringComparison.OrdinalIgnoreCase);

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

    /// <summary>
    /// One change of the limits in force at a time, across instances: two officers' changes (or approvals) at once must not
    /// both win, each undoing the other's.
    /// </summary>
    private static Task LockAsync(PortalDbContext db, CancellationToken ct) =>
        db.Database.ExecuteSqlRawAsync("lock table limit_versions in share row exclusive mode", ct);

    private static Task<LimitVersion?> LatestActiveAsync(PortalDbContext db, CancellationToken ct) =>
        db.LimitVersions.AsNoTracking().Where(v => v.State == LimitStates.Active).OrderByDescending(v => v.Version).FirstOrDefaultAsync(ct);

    /// <summary>Adds the version and its audit event; the caller's transaction commits both.</summary>
    private async Task<LimitVersion> SaveAuditedAsync(PortalDbContext db, LimitVersionView? previous, LimitVersion row, CancellationToken ct)
    {
        db.LimitVersions.Add(row);
        await db.SaveChangesAsync(ct);
        var limits = JsonSerializer.Deserialize<RiskLimits>(row.LimitsJson)!;
        await AuditTrail.AppendInTransactionAsync(db, [AuditEventDraft.Create(row.ProposedAt, row.ProposedBy,
            row.State == LimitStates.Pending ? "limits.proposed" : "limits.changed", "limits", new
        {
            version = row.Version,
            previousVersion = previous?.Version,
            reason = row.Reason,
            approvedBy = row.ApprovedBy,
            keyOwner = row.KeyOwner,
            from = previous is null ? null : AsText(previous.Limits),
            to = AsText(limits),
        })], ct);
        return row;
    }

    /// <summary>Limits as exact decimal strings: the audit payload's numbers would be doubles.</summary>
    private static Dictionary<string, string> AsText(RiskLimits limits) =>
        limits.Entries().ToDictionary(e => e.Name, e => AuditTrail.Text(e.Value)!);

    /// <summary>An active version is in force at once (approved by its proposer); a pending one waits for a second person.</summary>
    private LimitVersion NewVersion(RiskLimits limits, string reason, string actor, string state, long? basedOn) => new()
    {
        BasedOn = basedOn,
        LimitsJson = JsonSerializer.Serialize(limits),
        State = state,
        Reason = reason,
        ProposedBy = actor,
        ProposedAt = clock.GetUtcNow(),
        ApprovedBy = state == LimitStates.Active ? actor : null,
        ApprovedAt = state == LimitStates.Active ? clock.GetUtcNow() : null,
    };

    private RiskLimits Clamp(RiskLimits limits)
    {
        var ceilings = Ceilings.Entries().ToDictionary(e => e.Name, e => e.Value);
        return RiskOptions.ToLimits(limits.Entries().ToDictionary(e => e.Name, e => Math.Min(e.Value, ceilings[e.Name])), null);
    }

    private static LimitVersionView ToView(LimitVersion row) => new(
        row.Version, JsonSerializer.Deserialize<RiskLimits>(row.LimitsJson)!, row.State, row.Reason,
        row.ProposedBy, row.ProposedAt, row.ApprovedBy, row.ApprovedAt, row.KeyOwner, row.BasedOn);
}

public static class LimitStates
{
    public const string Active = "active";
    public const string Pending = "pending";
    public const string Rejected = "rejected";
    public const string Superseded = "superseded";
}

public enum LimitDecisionStatus { Done, NotFound, NotPending, SameOfficer, Invalid, Stale }

/// <summary>The result of approving or rejecting a pending version; <see cref="Errors"/> by limit name when it no longer fits the ceilings.</summary>
public sealed record LimitDecision(LimitDecisionStatus Status, LimitVersionView? Version = null, IReadOnlyDictionary<string, string>? Errors = null);

public sealed record LimitVersionView(
    long Version, RiskLimits Limits, string State, string Reason, string ProposedBy, DateTimeOffset ProposedAt,
    string? ApprovedBy, DateTimeOffset? ApprovedAt, string? KeyOwner = null, long? BasedOn = null);
