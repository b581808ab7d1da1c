using Npgsql;
using Portal.Domain.Broker;

namespace Portal.Features.Orders;

/// <summary>The statement every broker adapter commits, with its own change, to keep <c>orders</c> current.</summary>
public static class OrderStatusSql
{
    public static NpgsqlBatchCommand Update(BrokerOrderState state, DateTimeOffset now)
    {
        var command = new NpgsqlBatchCommand("""
            update orders set status = $2, broker_order_id = $3, filled_quantity = $4, avg_fill_price = $5, updated_at = $6
            where client_order_id = $1 and decision = 'accepted'
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = state.ClientOrderId });
        command.Parameters.Add(new NpgsqlParameter { Value = OrderText.Format(state.Status) });
        command.Parameters.Add(new NpgsqlParameter { Value = state.BrokerOrderId });
        command.Parameters.Add(new NpgsqlParameter { Value = state.FilledQuantity });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)state.AvgFillPrice ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        return command;
    }
}
