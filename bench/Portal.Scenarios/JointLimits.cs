using System.Text.Json;
using Npgsql;

namespace Portal.Scenarios;

/// <summary>
/// Limits hold for the account, not per instance: both instances are asked at once for orders that each fit alone but
/// not together, and after the run the largest position value ever reached is computed from the fills in Postgres.
/// </summary>
public static class JointLimits
{
    private const string Symbol = "SPY";
    private const int OrdersPerInstance = 4;

    /// <summary>
    /// Buys of about 30 % of MaxPositionSizeUsd each, four per instance, all at once: one account accepts at most three, so
    /// the position stays within its limit; instances that each count only their own would accept six. Sold back afterwards.
    /// </summary>
    public static async Task PushAsync(Report report, Api[] apis, Ledger ledger, string connectionString, string runId)
    {
        var maxPositionUsd = (await LimitHistoryAsync(connectionString))[^1].MaxPositionSizeUsd;
        var price = await LastFillPriceAsync(connectionString, Symbol) ?? 590m;
        var quantity = Math.Max(1m, Math.Floor(maxPositionUsd * 0.3m / price));
        report.Section($"joint limits: {OrdersPerInstance} buys of {quantity} {Symbol} (~{quantity * price:F0} USD) on each of {apis.Length} instances at once, limit {maxPositionUsd:F0} USD");
        var strategy = runId + "-joint";
        var answers = await Task.WhenAll(Enumerable.Range(0, OrdersPerInstance * apis.Length).Select(i => SendAsync(i % apis.Length, $"{runId}-joint-{i}", "buy")));
        var accepted = answers.Count(a => a.Status == 201);
        report.Line($"accepted {accepted}, refused {answers.Count(a => a.Status == 422)} ({string.Join(", ", answers.Where(a => a.Reason is not null).Select(a => a.Reason).Distinct())})");
        report.Expect(answers.All(a => a.Status is 201 or 422), "every joint-limit order decided (201 or 422)");
        for (var i = 0; i < accepted; i++) await SendAsync(0, $"{runId}-joint-unwind-{i}", "sell");

        async Task<Answer> SendAsync(int instance, string id, string side)
        {
            var answer = await apis[instance].PostOrderAsync(Orders.Market(id, strategy, Symbol, side, quantity));
            ledger.Record(new Sent(id, OrderKind.Valid, instance, answer));
            return answer;
        }
    }

    /// <summary>
    /// Replays every fill in Postgres in time order: per symbol, the position after each fill valued at that fill's price, against
    /// MaxPositionSizeUsd in force then. The largest value reached must never exceed it.
    /// </summary>
    public static async Task CheckAsync(Report report, string connectionString)
    {
        var limits = await LimitHistoryAsync(connectionString);
        var positions = new Dictionary<string, decimal>(StringComparer.Ordinal);
        (decimal Value, decimal Limit, string Symbol, DateTimeOffset At)? worst = null;
        var breaches = 0;
        var fills = 0;
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("select symbol, side, quantity, price, filled_at from paper_fills order by filled_at, id", connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                fills++;
                var symbol = reader.GetString(0);
                var signed = reader.GetString(1) == "buy" ? reader.GetDecimal(2) : -reader.GetDecimal(2);
                var at = reader.GetFieldValue<DateTimeOffset>(4);
                var position = positions[symbol] = positions.GetValueOrDefault(symbol) + signed;
                var value = Math.Abs(position) * reader.GetDecimal(3);
                var limit = limits.LastOrDefault(l => l.Since <= at)?.MaxPositionSizeUsd ?? limits[0].MaxPositionSizeUsd;
                if (value > limit) breaches++;
                if (worst is null || value / limit > worst.Value.Value / worst.Value.Limit) worst = (value, limit, symbol, at);
            }
        }
        report.Section("joint limits over the whole run (from the fills in Postgres)");
        var summary = worst is { } w
            ? $"largest position value {w.Value:F2} USD ({w.Symbol} at {w.At:HH:mm:ss.fff}) against MaxPositionSizeUsd {w.Limit:F0}"
            : "no fills";
        report.Expect(breaches == 0, $"no position ever beyond MaxPositionSizeUsd: {fills} fills, {breaches} beyond; {summary}");
    }

    private sealed record LimitVersion(DateTimeOffset Since, decimal MaxPositionSizeUsd);

    /// <summary>Every version that was in force, oldest first (a superseded version was in force until the next).</summary>
    private static async Task<List<LimitVersion>> LimitHistoryAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "select coalesce(approved_at, proposed_at), limits::text from limit_versions where state in ('active', 'superseded') order by version", connection);
        var versions = new List<LimitVersion>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            using var limits = JsonDocument.Parse(reader.GetString(1));
            var max = limits.RootElement.EnumerateObject().First(p => string.Equals(p.Name, "MaxPositionSizeUsd", StringComparison.OrdinalIgnoreCase)).Value;
            versions.Add(new LimitVersion(reader.GetFieldValue<DateTimeOffset>(0), max.GetDecimal()));
        }
        return versions.Count > 0 ? versions : throw new InvalidOperationException("no limit version was ever in force");
    }

    private static async Task<decimal?> LastFillPriceAsync(string connectionString, string symbol)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select price from paper_fills where symbol = $1 order by id desc limit 1", connection);
        command.Parameters.AddWithValue(symbol);
        return await command.ExecuteScalarAsync() is decimal price ? price : null;
    }
}
