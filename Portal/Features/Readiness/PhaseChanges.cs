using Npgsql;
using Portal.Domain.Audit;
using Portal.Features.Audit;
using Portal.Features.Live;
using Portal.Infrastructure.Postgres;

namespace Portal.Features.Readiness;

/// <param name="FromVersion">The deployment phase's version when it was requested: it applies only while that is still the phase's version.</param>
public sealed record PhaseChangeRequest(Guid Id, DeploymentPhase Target, string Reason, string RequestedBy, DateTimeOffset RequestedAt, long? FromVersion)
{
    public string TargetName => DeploymentPhases.Format(Target);
}

public enum PhaseChangeStatus { Changed, PendingApproval, Refused, NotFound }

public sealed record PhaseChangeOutcome(PhaseChangeStatus Status, string Detail, PhaseChangeRequest? Request = null, DeploymentPhaseView? Phase = null,
    IReadOnlyList<string>? NotGreen = null);

/// <summary>
/// Moving between deployment phases. Up (Paper → Small Live → Scale Up, one step at a time) is refused unless every
/// checklist item is green, and takes a second, different RiskOfficer's approval; the checklist is computed again at
/// approval, so evidence that failed or aged in between stops the move, and so does any change of phase since the request, even
/// one undone since (an incident's move to Paper and back voids what was asked before it). Down (towards Paper) reduces risk and takes
/// effect at once. Requests, refusals and changes are audited; a change commits with its audit record.
/// </summary>
public sealed class PhaseChanges(NpgsqlDataSource db, DeploymentPhaseStore phases, Checklist checklist, AuditTrail audit, OpsEventBus live, TimeProvider clock)
{
    public const string PhaseEvent = "deploymentPhase";

    public async Task<PhaseChangeOutcome> RequestAsync(DeploymentPhase target, string reason, string actor, CancellationToken ct)
    {
        var current = await phases.LoadAsync(ct);
        if (target == current.Phase) return new(PhaseChangeStatus.Refused, $"The deployment is already in {current.Title}.", Phase: current);
        if (target < current.Phase)
        {
            // Down reduces risk, so it must happen: if another instance changed the phase since it was read here, it is
            // made again from the phase in force now, unless that is already at or below the target.
            while (true)
            {
                var (moved, now) = await ChangeAsync(current, target, reason, actor, null, ct);
                if (moved) return new(PhaseChangeStatus.Changed, $"Moved down to {now.Title}.", Phase: now);
                if (target >= now.Phase) return new(PhaseChangeStatus.Refused, $"The deployment is already in {now.Title}.", Phase: now);
                current = now;
            }
        }
        if (target != current.Phase + 1)
            return new(PhaseChangeStatus.Refused, $"Phases go up one step at a time: from {current.Title} the next is {DeploymentPhases.Title(current.Phase + 1)}.", Phase: current);
        if (await RedItemsAsync(ct) is { Count: > 0 } notGreen)
        {
            await audit.AppendAsync(AuditEventDraft.Create(clock.GetUtcNow(), actor, "deployment_phase.refused", "deployment", new { target = DeploymentPhases.Format(target), reason, notGreen }));
            return new(PhaseChangeStatus.Refused, $"Moving to {DeploymentPhases.Title(target)} needs every checklist item green; not green: {string.Join(", ", notGreen)}.",
                Phase: current, NotGreen: notGreen);
        }

        var request = new PhaseChangeRequest(Guid.CreateVersion7(clock.GetUtcNow()), target, reason, actor, clock.GetUtcNow(), current.Version);
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var insert = new NpgsqlCommand("""
            insert into phase_change_requests (id, target_phase, reason, requested_by, requested_at, from_version, state) values ($1, $2, $3, $4, $5, $6, 'pending')
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue(request.Id);
            insert.Parameters.AddWithValue(request.TargetName);
            insert.Parameters.AddWithValue(reason);
            insert.Parameters.AddWithValue(actor);
            insert.Parameters.AddWithValue(request.RequestedAt);
            insert.Parameters.AddWithValue(current.Version);
            await insert.ExecuteNonQueryAsync(ct);
        }
        await AuditChainWriter.AppendAsync(connection, transaction, [AuditEventDraft.Create(request.RequestedAt, actor, "deployment_phase.requested", "deployment",
            new { requestId = request.Id, from = current.Name, target = request.TargetName, reason })], ct);
        await transaction.CommitAsync(ct);
        live.Publish(PhaseEvent, request);
        return new(PhaseChangeStatus.PendingApproval, $"A second, different RiskOfficer must approve the move to {DeploymentPhases.Title(target)}.", request, current);
    }

    public async Task<PhaseChangeOutcome> ApproveAsync(Guid requestId, string approver, CancellationToken ct)
    {
        var request = (await PendingAsync(ct)).FirstOrDefault(r => r.Id == requestId);
        if (request is null) return new(PhaseChangeStatus.NotFound, "No pending phase change has that id.");
        if (string.Equals(request.RequestedBy, approver, StringComparison.Ordinal))
            return new(PhaseChangeStatus.Refused, "The approver must be a different RiskOfficer from the requester.", request);
        var current = await phases.LoadAsync(ct);
        if (request.FromVersion != current.Version)
            return await DecideAsync(request, approver,
                $"The deployment phase changed after this request (version {request.FromVersion?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"} then, " +
                $"{current.Version} now, in {current.Title}); it no longer applies: request again.", ct);
        if (await RedItemsAsync(ct) is { Count: > 0 } notGreen)
        {
            await audit.AppendAsync(AuditEventDraft.Create(clock.GetUtcNow(), approver, "deployment_phase.refused", "deployment", new { requestId, target = request.TargetName, notGreen }));
            return new(PhaseChangeStatus.Refused, $"Not every checklist item is green any more: {string.Join(", ", notGreen)}.", request, current, notGreen);
        }
        var (moved, changed) = await ChangeAsync(current, request.Target, request.Reason, $"{request.RequestedBy}, approved by {approver}", (request, approver), ct);
        return moved
            ? new(PhaseChangeStatus.Changed, $"Moved to {changed.Title}.", request, changed)
            : new(PhaseChangeStatus.Refused, "The request was already decided.", request, changed);
    }

    public async Task<IReadOnlyList<PhaseChangeRequest>> PendingAsync(CancellationToken ct)
    {
        await using var command = db.CreateCommand(
            "select id, target_phase, reason, requested_by, requested_at, from_version from phase_change_requests where state = 'pending' order by requested_at");
        await using var reader = await command.ExecuteReaderAsync(ct);
        var result = new List<PhaseChangeRequest>();
        while (await reader.ReadAsync(ct))
            result.Add(new PhaseChangeRequest(reader.GetGuid(0), DeploymentPhases.Parse(reader.GetString(1)) ?? DeploymentPhase.Paper, reader.GetString(2),
                reader.GetString(3), reader.GetFieldValue<DateTimeOffset>(4), reader.IsDBNull(5) ? null : reader.GetInt64(5)));
        return result;
    }

    private async Task<IReadOnlyList<string>> RedItemsAsync(CancellationToken ct) =>
        (await checklist.ComputeAsync(ct)).NotGreen.Select(i => $"{i.Title} ({i.StatusText})").ToList();

    /// <summary>Settles the request as refused, with its audit record in the same transaction.</summary>
    private async Task<PhaseChangeOutcome> DecideAsync(PhaseChangeRequest request, string decider, string note, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var command = new NpgsqlCommand("""
            update phase_change_requests set state = 'refused', decided_by = $2, decided_at = $3, decision_note = $4 where id = $1 and state = 'pending'
            """, connection, transaction))
        {
            command.Parameters.AddWithValue(request.Id);
            command.Parameters.AddWithValue(decider);
            command.Parameters.AddWithValue(now);
            command.Parameters.AddWithValue(note);
            if (await command.ExecuteNonQueryAsync(ct) != 1) return new(PhaseChangeStatus.Refused, "The request was already decided.", request);
        }
        await AuditChainWriter.AppendAsync(connection, transaction, [AuditEventDraft.Create(now, decider, "deployment_phase.refused", "deployment",
            new { requestId = request.Id, target = request.TargetName, reason = note })], ct);
        await transaction.CommitAsync(ct);
        return new(PhaseChangeStatus.Refused, note, request);
    }

    /// <summary>
    /// Sets the phase (and settles the approved request) with its audit record, in one transaction, only if the phase is still
    /// at <paramref name="from"/>'s version; either way returns the phase in force after.
    /// </summary>
    private async Task<(bool Changed, DeploymentPhaseView Phase)> ChangeAsync(DeploymentPhaseView from, DeploymentPhase target, string reason, string actor,
        (PhaseChangeRequest Request, string Approver)? approval, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        if (approval is { } a)
        {
            await using var settle = new NpgsqlCommand("""
                update phase_change_requests set state = 'approved', decided_by = $2, decided_at = $3 where id = $1 and state = 'pending'
                """, connection, transaction);
            settle.Parameters.AddWithValue(a.Request.Id);
            settle.Parameters.AddWithValue(a.Approver);
            settle.Parameters.AddWithValue(now);
            if (await settle.ExecuteNonQueryAsync(ct) != 1) return (false, from);
        }
        await using (var update = new NpgsqlCommand("""
            update deployment_phase set phase = $1, reason = $2, changed_by = $3, changed_at = $4, version = version + 1 where id = 1 and version = $5
            """, connection, transaction))
        {
            update.Parameters.AddWithValue(DeploymentPhases.Format(target));
            update.Parameters.AddWithValue(reason);
            update.Parameters.AddWithValue(actor);
            update.Parameters.AddWithValue(now);
            update.Parameters.AddWithValue(from.Version);
            // Another instance changed the phase since it was read: nothing happens here.
            if (await update.ExecuteNonQueryAsync(ct) != 1) return (false, await phases.LoadAsync(ct));
        }
        await AuditChainWriter.AppendAsync(connection, transaction, [AuditEventDraft.Create(now, actor, "deployment_phase.changed", "deployment",
            new { from = from.Name, to = DeploymentPhases.Format(target), reason, requestId = approval?.Request.Id, approvedBy = approval?.Approver })], ct);
        await transaction.CommitAsync(ct);
        var changed = await phases.LoadAsync(ct);
        live.Publish(PhaseEvent, changed);
        return (true, changed);
    }
}
