using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;
using Portal.Domain.Broker;
using Portal.Domain.Orders;
using Portal.Infrastructure.Postgres;

namespace Portal.Features.Orders;

/// <summary>
/// Every statement on <c>orders</c>: the order lifecycle's one owner. A decision is inserted (under the account lock, see
/// <see cref="Risk.AccountAuthority"/>); afterwards only brokers' reported states and Portal's own verdicts on
/// submissions (failed, never sent) move it. Statements that must commit with other work are returned as batch commands
/// for the group committer; reads run on their own.
/// </summary>
public sealed class OrderStore(NpgsqlDataSource db, IDbContextFactory<PortalDbContext> dbFactory)
{
    /// <summary>Statuses of an accepted order that may still fill.</summary>
    public const string WorkingStatuses = "('pending_submit', 'submitted', 'new', 'partially_filled')";

    /// <summary>
    /// A broker's report of an order's state, committed with the broker's own change. It moves the row only forward (from a
    /// working status, or from <c>submit_failed</c> when the broker did take the order, to more filled or another status):
    /// every instance hears an external broker's reports, and one may hand in a state another already moved past.
    /// RecordsAffected says whether it moved.
    /// </summary>
    public static NpgsqlBatchCommand Reported(BrokerOrderState state, DateTimeOffset now) => Command("""
        update orders set status = $2, broker_order_id = $3, filled_quantity = $4, avg_fill_price = $5, updated_at = $6
        where client_order_id = $1 and decision = 'accepted'
            and status in ('pending_submit', 'submitted', 'new', 'partially_filled', 'submit_failed')
            and filled_quantity <= $4 and (status <> $2 or filled_quantity < $4)
        """, state.ClientOrderId, OrderText.Format(state.Status), state.BrokerOrderId, state.FilledQuantity, state.AvgFillPrice, now);

    /// <summary>
    /// The broker refused the order or could not be reached: Portal's verdict on the submission, only over a row still
    /// pending (what the broker's stream recorded meanwhile stands).
    /// </summary>
    public static NpgsqlBatchCommand SubmissionFailed(Guid id, string status, string? message, DateTimeOffset now) =>
        Command("update orders set status = $2, message = $3, updated_at = $4 where id = $1 and status = 'pending_submit'", id, status, message, now);

    /// <summary>An accepted order that never reached the broker; only a row still pending is moved, so two instances never both record it.</summary>
    public static NpgsqlBatchCommand NeverSent(Guid id, string message, DateTimeOffset now) => Command(
        "update orders set status = 'submit_failed', message = $2, updated_at = $3 where id = $1 and status = 'pending_submit'", id, message, now);

    /// <summary>Which of <paramref name="clientOrderIds"/> are decided already (read under the account lock).</summary>
    public static NpgsqlBatchCommand RecordedAmong(string[] clientOrderIds) =>
        Command("select client_order_id from orders where client_order_id = any($1)", [clientOrderIds]);

    /// <summary>
    /// The quantity accepted orders may still add, by symbol and side (read under the account lock). With
    /// <paramref name="positionsAsOf"/> (a broker's positions of record as of that time), the filled part of every order updated
    /// since counts as working too: the fill may not be in those positions yet, and counting it twice only refuses more.
    /// </summary>
    public static NpgsqlBatchCommand Working(DateTimeOffset? positionsAsOf) => positionsAsOf is { } asOf
        ? Command($"""
            select symbol, side, sum(case when status in {WorkingStatuses} then quantity - filled_quantity else 0 end
                                   + case when updated_at >= $1 then filled_quantity else 0 end)
            from orders where decision = 'accepted' and (status in {WorkingStatuses} or (updated_at >= $1 and filled_quantity > 0))
            group by symbol, side
            """, asOf)
        : Command($"""
            select symbol, side, sum(quantity - filled_quantity) from orders
            where decision = 'accepted' and status in {WorkingStatuses} group by symbol, side
            """);

    public async Task<OrderRow?> FindAsync(string clientOrderId, CancellationToken ct)
    {
        await using var context = await dbFactory.CreateDbContextAsync(ct);
        return await context.Orders.AsNoTracking().SingleOrDefaultAsync(o => o.ClientOrderId == clientOrderId, ct);
    }

    /// <summary>Accepted orders still pending_submit since before <paramref name="before"/>: sent by nobody unless the broker knows them.</summary>
    public async Task<List<(Guid Id, string ClientOrderId)>> PendingSubmitBeforeAsync(DateTimeOffset before, CancellationToken ct)
    {
        await using var command = db.CreateCommand("""
            select id, client_order_id from orders where status = 'pending_submit' and created_at < $1 order by created_at limit 1000
            """);
        command.Parameters.AddWithValue(before);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var unsent = new List<(Guid, string)>();
        while (await reader.ReadAsync(ct)) unsent.Add((reader.GetGuid(0), reader.GetString(1)));
        return unsent;
    }

    /// <summary>Accepted orders an external broker may still be working, or whose submission failed since <paramref name="failedSince"/>: to reconcile.</summary>
    public async Task<List<string>> ToReconcileAsync(DateTimeOffset failedSince, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"""
            select client_order_id from orders
            where decision = 'accepted' and (status in {WorkingStatuses} or (status = 'submit_failed' and updated_at > $1))
            order by created_at desc limit 1000
            """);
        command.Parameters.AddWithValue(failedSince);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var ids = new List<string>();
        while (await reader.ReadAsync(ct)) ids.Add(reader.GetString(0));
        return ids;
    }

    /// <summary>The strategy's orders a halt with cancel cancels: not yet sent, or working at the broker.</summary>
    public async Task<List<string>> CancellableOfStrategyAsync(string strategyId, CancellationToken ct)
    {
        await using var command = db.CreateCommand(
            "select client_order_id from orders where strategy_id = $1 and status in ('pending_submit', 'new', 'partially_filled')");
        command.Parameters.AddWithValue(strategyId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var ids = new List<string>();
        while (await reader.ReadAsync(ct)) ids.Add(reader.GetString(0));
        return ids;
    }

    /// <summary>Accepted orders still working (what a halt with cancel cancels), of one strategy or of all.</summary>
    public async Task<int> WorkingCountAsync(string? strategyId, CancellationToken ct)
    {
        await using var command = db.CreateCommand(
            $"select count(*) from orders where decision = 'accepted' and status in {WorkingStatuses} and ($1::text is null or strategy_id = $1)");
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)strategyId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return (int)(long)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>The strategies that sent orders since <paramref name="since"/>, by id.</summary>
    public async Task<List<string>> StrategiesSinceAsync(DateTimeOffset since, CancellationToken ct)
    {
        await using var command = db.CreateCommand("select distinct strategy_id from orders where created_at >= $1 order by strategy_id limit 500");
        command.Parameters.AddWithValue(since);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var strategies = new List<string>();
        while (await reader.ReadAsync(ct)) strategies.Add(reader.GetString(0));
        return strategies;
    }

    /// <summary>Accepted orders since <paramref name="since"/> counted per strategy and sender (the actor, "apikey:&lt;id&gt;" for a key).</summary>
    public async Task<List<(string StrategyId, string Actor, long Count)>> AcceptedCountsSinceAsync(DateTimeOffset since, CancellationToken ct)
    {
        await using var command = db.CreateCommand(
            "select strategy_id, actor, count(*) from orders where decision = 'accepted' and created_at >= $1 group by strategy_id, actor");
        command.Parameters.AddWithValue(since);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var counts = new List<(string, string, long)>();
        while (await reader.ReadAsync(ct)) counts.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
        return counts;
    }

    /// <summary>Each order accepted after <paramref name="after"/>, with its sender and decision time.</summary>
    public async Task<List<(string StrategyId, string Actor, string ClientOrderId, DateTimeOffset CreatedAt)>> AcceptedAfterAsync(DateTimeOffset after, CancellationToken ct)
    {
        await using var command = db.CreateCommand(
            "select strategy_id, actor, client_order_id, created_at from orders where decision = 'accepted' and created_at > $1");
        command.Parameters.AddWithValue(after);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var accepted = new List<(string, string, string, DateTimeOffset)>();
        while (await reader.ReadAsync(ct)) accepted.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3)));
        return accepted;
    }

    public async Task<List<DateTimeOffset>> DecisionTimesSinceAsync(DateTimeOffset since, CancellationToken ct)
    {
        await using var command = db.CreateCommand("select created_at from orders where created_at > $1 order by created_at");
        command.Parameters.AddWithValue(since);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var times = new List<DateTimeOffset>();
        while (await reader.ReadAsync(ct)) times.Add(reader.GetFieldValue<DateTimeOffset>(0));
        return times;
    }

    /// <summary>The newest refusals first.</summary>
    public async Task<List<OrderDecisionEvent>> RecentRefusalsAsync(int count, CancellationToken ct)
    {
        await using var command = db.CreateCommand("""
            select id, client_order_id, strategy_id, symbol, side, quantity, order_type, limit_price, decision, reason, message, status, avg_fill_price, created_at
            from orders where decision = 'rejected' order by created_at desc limit $1
            """);
        command.Parameters.AddWithValue(count);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var refusals = new List<OrderDecisionEvent>();
        while (await reader.ReadAsync(ct))
            refusals.Add(new OrderDecisionEvent(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.GetDecimal(5), reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetDecimal(7), reader.GetString(8),
                reader.IsDBNull(9) ? null : reader.GetString(9), reader.IsDBNull(10) ? null : reader.GetString(10), reader.GetString(11),
                reader.IsDBNull(12) ? null : reader.GetDecimal(12), reader.GetFieldValue<DateTimeOffset>(13)));
        return refusals;
    }

    private static NpgsqlBatchCommand Command(string sql, params object?[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
        return command;
    }
}

/// <summary>Decisions, written set by set: every decision of a batch in one statement (see <see cref="SetTable{TRow}"/>).</summary>
public sealed class OrdersTable : SetTable<OrderRow>
{
    public static OrdersTable Instance { get; } = new();

    // First: the paper broker's rows of the same batch follow their decisions.
    public override int Order => 0;

    protected override NpgsqlBatchCommand Insert(IReadOnlyList<OrderRow> rows)
    {
        var command = new NpgsqlBatchCommand("""
            insert into orders (id, client_order_id, request_hash, strategy_id, symbol, side, quantity, order_type, limit_price,
                time_in_force, decision, reason, limit_value, actual_value, message, reference_price, status, actor, created_at, updated_at,
                broker_order_id, filled_quantity, avg_fill_price)
            select id, client_order_id, request_hash, strategy_id, symbol, side, quantity, order_type, limit_price,
                time_in_force, decision, reason, limit_value, actual_value, message, reference_price, status, actor, created_at, created_at,
                broker_order_id, filled_quantity, avg_fill_price
            from unnest($1::uuid[], $2::text[], $3::bytea[], $4::text[], $5::text[], $6::text[], $7::numeric[], $8::text[], $9::numeric[],
                $10::text[], $11::text[], $12::text[], $13::numeric[], $14::numeric[], $15::text[], $16::numeric[], $17::text[], $18::text[],
                $19::timestamptz[], $20::text[], $21::numeric[], $22::numeric[])
                as r (id, client_order_id, request_hash, strategy_id, symbol, side, quantity, order_type, limit_price,
                time_in_force, decision, reason, limit_value, actual_value, message, reference_price, status, actor, created_at,
                broker_order_id, filled_quantity, avg_fill_price)
            """);
        Column(command, rows, r => r.Id, NpgsqlDbType.Uuid);
        Column(command, rows, r => r.ClientOrderId, NpgsqlDbType.Text);
        Column(command, rows, r => r.RequestHash, NpgsqlDbType.Bytea);
        Column(command, rows, r => r.StrategyId, NpgsqlDbType.Text);
        Column(command, rows, r => r.Symbol, NpgsqlDbType.Text);
        Column(command, rows, r => r.Side, NpgsqlDbType.Text);
        Column(command, rows, r => r.Quantity, NpgsqlDbType.Numeric);
        Column(command, rows, r => r.OrderType, NpgsqlDbType.Text);
        Column(command, rows, r => r.LimitPrice, NpgsqlDbType.Numeric);
        Column(command, rows, r => r.TimeInForce, NpgsqlDbType.Text);
        Column(command, rows, r => r.Decision, NpgsqlDbType.Text);
        Column(command, rows, r => r.Reason, NpgsqlDbType.Text);
        Column(command, rows, r => r.LimitValue, NpgsqlDbType.Numeric);
        Column(command, rows, r => r.ActualValue, NpgsqlDbType.Numeric);
        Column(command, rows, r => r.Message, NpgsqlDbType.Text);
        Column(command, rows, r => r.ReferencePrice, NpgsqlDbType.Numeric);
        Column(command, rows, r => r.Status, NpgsqlDbType.Text);
        Column(command, rows, r => r.Actor, NpgsqlDbType.Text);
        Column(command, rows, r => r.CreatedAt, NpgsqlDbType.TimestampTz);
        Column(command, rows, r => r.BrokerOrderId, NpgsqlDbType.Text);
        Column(command, rows, r => r.FilledQuantity, NpgsqlDbType.Numeric);
        Column(command, rows, r => r.AvgFillPrice, NpgsqlDbType.Numeric);
        return command;
    }
}
