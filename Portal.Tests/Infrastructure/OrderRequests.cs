using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;

namespace Portal.Tests.Infrastructure;

public static class OrderRequests
{
    public static JsonObject Market(string clientOrderId, decimal quantity, string symbol = "AAPL", string side = "buy", string strategyId = "s1") => new()
    {
        ["clientOrderId"] = clientOrderId, ["strategyId"] = strategyId, ["symbol"] = symbol, ["side"] = side,
        ["quantity"] = quantity, ["type"] = "market", ["timeInForce"] = "day",
    };

    public static JsonObject Limit(string clientOrderId, decimal quantity, decimal limitPrice, string symbol = "AAPL", string side = "buy")
    {
        var order = Market(clientOrderId, quantity, symbol, side);
        order["type"] = "limit";
        order["limitPrice"] = limitPrice;
        return order;
    }

    public static Task<HttpResponseMessage> PostOrderAsync(this HttpClient client, JsonObject order) =>
        client.PostAsync("/api/orders", new StringContent(order.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));

    public static Task<HttpResponseMessage> PostRawAsync(this HttpClient client, string body) =>
        client.PostAsync("/api/orders", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response) =>
        await response.Content.ReadFromJsonAsync<JsonElement>();

    /// <summary>
    /// As the owner: what an instance stopped between the decision and the broker leaves, a copy of an accepted order's row
    /// under <paramref name="clientOrderId"/>, pending_submit, never sent, decided at <paramref name="decidedAt"/>.
    /// </summary>
    public static Task CopyAsUnsentAsync(string ownerConnectionString, string acceptedClientOrderId, string clientOrderId, DateTimeOffset decidedAt) =>
        ScalarAsync(ownerConnectionString, """
            insert into orders select (jsonb_populate_record(null::orders, to_jsonb(o) || jsonb_build_object(
                'id', gen_random_uuid(), 'client_order_id', $2::text, 'status', 'pending_submit', 'broker_order_id', null, 'created_at', $3::timestamptz))).*
            from orders o where client_order_id = $1 returning 1
            """, acceptedClientOrderId, clientOrderId, decidedAt);

    public static async Task<long> ScalarAsync(string connectionString, string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var p in parameters) command.Parameters.AddWithValue(p);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
