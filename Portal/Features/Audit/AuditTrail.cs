using System.Globalization;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using Portal.Domain.Audit;
using Portal.Infrastructure.Postgres;

namespace Portal.Features.Audit;

/// <summary>
/// Appends events to the audit chain. Three ways, by what the action needs:
/// <list type="bullet">
/// <item>In the action's own transaction, so that if the audit write fails the action fails: put the drafts on the
/// action's <see cref="PgWork.AuditEvents"/> (group commit), or call <see cref="AppendInTransactionAsync(DbContext, IReadOnlyList{AuditEventDraft}, CancellationToken)"/>
/// after the action's statements in an EF Core or Npgsql transaction.</item>
/// <item><see cref="AppendAsync(AuditEventDraft)"/>: on its own, when it is written.</item>
/// <item><see cref="AppendEventuallyAsync"/>: for actions that must take effect even when the trail cannot be
/// written, such as a halt. Take the action first, then call this without awaiting it: the event keeps its time and
/// is retried until the trail accepts it. The queue lives in memory; if the process ends first, the event is
/// written to the log at critical level instead, and is lost from the chain.</item>
/// </list>
/// Actors are user ids, API key ids (<c>apikey:&lt;id&gt;</c>) or service names, never secrets. Payloads are
/// hashed as JCS, whose numbers are doubles: money and quantities go in as strings (<see cref="Text(decimal?)"/>).
/// </summary>
public sealed class AuditTrail(GroupCommitter writer, ILogger<AuditTrail> logger) : BackgroundService
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan LastRetry = TimeSpan.FromSeconds(30);

    private readonly Channel<(AuditEventDraft Draft, TaskCompletionSource Done)> _eventually =
        Channel.CreateUnbounded<(AuditEventDraft, TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Exact decimal text for payloads (invariant culture, no exponent, trailing zeros kept as given).</summary>
    public static string? Text(decimal? value) => value?.ToString(CultureInfo.InvariantCulture);

    public Task AppendAsync(AuditEventDraft draft) => writer.CommitAsync(new PgWork { AuditEvents = [draft] });

    public Task AppendAsync(IReadOnlyList<AuditEventDraft> drafts) => writer.CommitAsync(new PgWork { AuditEvents = drafts });

    /// <summary>
    /// Queues the event and returns a task that completes once it is in the chain; storage failures are retried,
    /// not thrown. The task is cancelled only if the process stops first.
    /// </summary>
    public Task AppendEventuallyAsync(AuditEventDraft draft)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_eventually.Writer.TryWrite((draft, done))) Abandon(draft, done);
        return done.Task;
    }

    /// <summary>Appends in the caller's open EF Core transaction (call after the action's SaveChanges, then commit).</summary>
    public static Task AppendInTransactionAsync(DbContext db, IReadOnlyList<AuditEventDraft> drafts, CancellationToken ct)
    {
        var transaction = db.Database.CurrentTransaction
            ?? throw new InvalidOperationException("Begin a transaction first: the audit events must commit with the action.");
        return AuditChainWriter.AppendAsync((NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)transaction.GetDbTransaction(), drafts, ct);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = _eventually.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                if (!reader.TryPeek(out var item)) continue;
                try
                {
                    await AppendWithRetriesAsync(item.Draft, stoppingToken);
                    item.Done.TrySetResult();
                }
                catch (AuditSealException ex)
                {
                    // Retrying cannot help a draft that cannot be sealed; keep it in the log rather than block the queue.
                    logger.LogCritical(ex, "Audit event dropped: {Time:O} {Actor} {Type} {Subject}", item.Draft.Time, item.Draft.Actor, item.Draft.Type, item.Draft.Subject);
                    item.Done.TrySetException(ex);
                }
                reader.TryRead(out _);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            _eventually.Writer.TryComplete();
            while (reader.TryRead(out var left)) Abandon(left.Draft, left.Done);
        }
    }

    private async Task AppendWithRetriesAsync(AuditEventDraft draft, CancellationToken ct)
    {
        var delay = FirstRetry;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await AppendAsync(draft);
                if (attempt > 1) logger.LogWarning("Audit event {Type} on {Subject} recorded after {Attempts} attempts", draft.Type, draft.Subject, attempt);
                return;
            }
            catch (Exception ex) when (ex is not AuditSealException && !ct.IsCancellationRequested)
            {
                logger.LogError(ex, "Audit event {Type} on {Subject} could not be recorded (attempt {Attempt}); retrying in {Delay}",
                    draft.Type, draft.Subject, attempt, delay);
            }
            await Task.Delay(delay, ct);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, LastRetry.Ticks));
        }
    }

    private void Abandon(AuditEventDraft draft, TaskCompletionSource done)
    {
        logger.LogCritical("Audit event never recorded (the process is stopping): {Time:O} {Actor} {Type} {Subject} {Payload}",
            draft.Time, draft.Actor, draft.Type, draft.Subject, draft.Payload.GetRawText());
        done.TrySetCanceled();
    }
}
