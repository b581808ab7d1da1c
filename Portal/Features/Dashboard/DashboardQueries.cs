using Npgsql;
using Portal.Features.Orders;

namespace Portal.Features.Dashboard;

/// <summary>What the dashboard seeds from the <c>orders</c> table when it opens; live events keep it current afterwards.</summary>
public sealed class DashboardQueries(NpgsqlDataSource db)
{
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
}
