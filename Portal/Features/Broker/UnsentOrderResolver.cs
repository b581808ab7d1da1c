using Npgsql;
using Portal.Domain.Broker;
using Portal.Domain.Audit;
using Portal.Features.Orders;
using Portal.Infrastructure.Postgres;

namespace Portal.Features.Broker;

/// <summary>How long an accepted order may stay <c>pending_submit</c> before <see cref="UnsentOrderResolver"/> asks the broker about it.</summary>
public sealed record UnsentOrderTimeout(TimeSpan Value);

/// <summary>
/// An accepted order is recorded <c>pending_submit</c> before it goes to the broker. If the instance deciding it dies in
/// between (crash, SIGKILL; found by bench/Portal.Scenarios), nothing ever moves the row: it stays pending_submit for
/// ever, counted as working and answered as pending to a retry. A row still pending_submit after
/// <see cref="UnsentOrderTimeout"/> (well beyond any submission's lifetime) that the broker does not know was never
/// sent: it becomes <c>submit_failed</c>, audited. It is never sent late: its caller got no acknowledgement and may have
/// retried under a new id. One the broker does know was sent after all, and the broker's answer records it. Every
/// instance runs this; the update only moves rows still pending, so two instances never both record one.
/// </summary>
public sealed class UnsentOrderResolver(
    OrderStore store, IBroker broker, GroupCommitter writer, UnsentOrderTimeout timeout, TimeProvider clock, ILogger<UnsentOrderResolver> logger)
    : BackgroundService
{
    public const string Message = "Portal stopped before the order reached the broker; it was not sent.";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(timeout.Value / 3, clock);
        do
        {
            try
            {
                var resolved = await ResolveAsync(stoppingToken);
                if (resolved > 0) logger.LogWarning("{Count} accepted orders were never sent to the broker (an instance stopped in between); marked submit_failed", resolved);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("Unsent orders not checked this time: {Error}", ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>Marks the orders left unsent; returns how many.</summary>
    public async Task<int> ResolveAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var resolved = 0;
        foreach (var (id, clientOrderId) in await store.PendingSubmitBeforeAsync(now - timeout.Value, ct))
        {
            try
            {
                if (await broker.GetOrderAsync(clientOrderId, ct) is not null) continue;
            }
            catch (BrokerException ex)
            {
                // Whether the broker has it is unknown: the order stays pending (counted as working) until it answers.
                logger.LogWarning("Unsent orders not checked further this time: the broker did not answer ({Error})", ex.Message);
                break;
            }
            var update = OrderStore.NeverSent(id, Message, now);
            await writer.CommitAsync(new PgWork(update)
            {
                AuditEvents = [AuditEventDraft.Create(now, "system", "order.submit_failed", "order:" + clientOrderId,
                    new { orderId = id, clientOrderId, code = "not_sent", kind = "InstanceStopped", message = Message })],
                AuditWhen = () => update.RecordsAffected == 1,
            });
            if (update.RecordsAffected == 1) resolved++;
        }
        return resolved;
    }
}
