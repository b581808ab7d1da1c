using System.Diagnostics;
using Npgsql;

namespace Portal.Scenarios;

/// <summary>An attacker on the Redis network (issue #15): forged trading states published and written while a strategy is halted.</summary>
public sealed partial class Abuse
{
    public async Task ForgedRedisAsync(Cluster cluster, string redisPrefix, Api[] apis)
    {
        var strategy = $"{runId}-forged";
        report.Section($"abuse: forged trading states on Redis while strategy {strategy} is halted (two instances)");
        var (halt, haltBody) = await apis[0].PostForBodyAsync("api/emergency/stop", $$"""{"reason":"scenario: forged Redis states","mode":"halt","strategyId":"{{strategy}}"}""");
        report.Expect(halt.Status == 200 && haltBody?.Contains("\"state\":\"halted\"", StringComparison.Ordinal) == true, $"the strategy is halted: {halt.Status}");
        var everywhere = Stopwatch.StartNew();
        while (everywhere.Elapsed < TimeSpan.FromSeconds(10) && !(await Task.WhenAll(apis.Select(api => OrderAsync(api, "pre")))).All(a => a.Refused("TradingHalted")))
            await Task.Delay(50);
        var before = await TradingStateAsync(strategy);

        const string Max = "9223372036854775807";
        string Forged(string scope, string mode, string version) =>
            $$"""{"scope":"{{scope}}","mode":"{{mode}}","reason":"forged","changedBy":"x","changedAt":"2030-01-01T00:00:00Z","version":{{version}}}""";
        var messages = new[]
        {
            Forged("strategy:" + strategy, "active", Max), Forged("strategy:" + strategy, "reduce_only", Max), Forged("strategy:" + strategy, "active", "-1"),
            Forged("strategy:" + strategy, "active", "1"), Forged("strategy:" + strategy, "active", "9223372036854775808"), Forged("global", "active", Max),
            "not json", "{}",
        };
        var channel = redisPrefix + "trading:state-changes";
        await cluster.RedisCommandAsync($"SET {redisPrefix}trading:state:strategy:{strategy} {Quote(messages[0])}");
        foreach (var message in messages) await cluster.RedisCommandAsync($"PUBLISH {channel} {Quote(message)}");

        // The attack on the old code lifted the halt within 2 s: keep trying for 5 s, on both instances, and republish halfway.
        var accepted = 0;
        var tried = 0;
        var window = Stopwatch.StartNew();
        var republished = false;
        while (window.Elapsed < TimeSpan.FromSeconds(5))
        {
            if (!republished && window.Elapsed > TimeSpan.FromSeconds(2.5))
            {
                foreach (var message in messages) await cluster.RedisCommandAsync($"PUBLISH {channel} {Quote(message)}");
                republished = true;
            }
            foreach (var answer in await Task.WhenAll(apis.Select(api => OrderAsync(api, "f"))))
            {
                tried++;
                if (answer.Status is 200 or 201) accepted++;
            }
            await Task.Delay(50);
        }
        report.Expect(accepted == 0, $"{tried} orders for the halted strategy while forged states were published: {accepted} accepted");
        var after = await TradingStateAsync(strategy);
        report.Expect(before == after, $"Postgres trading_state and trading_state_changes unchanged by the forgeries{(before == after ? "" : $": before [{before}] after [{after}]")}");

        var (again, againBody) = await apis[1].PostForBodyAsync("api/emergency/stop", $$"""{"reason":"scenario: halt after forgeries","mode":"halt","strategyId":"{{strategy}}"}""");
        var next = await OrderAsync(apis[1], "after");
        report.Expect(again.Status == 200 && againBody?.Contains("\"state\":\"halted\"", StringComparison.Ordinal) == true && next.Refused("TradingHalted"),
            $"a halt after the forgeries answers halted ({again.Status}) and the next order is refused at once: {next.Status} {next.Reason}");

        Task<Answer> OrderAsync(Api api, string tag) =>
            api.PostOrderAsync(Orders.Market($"{runId}-fr-{tag}-{Interlocked.Increment(ref _hostile)}", strategy, "AAPL", "buy", 1));
    }

    /// <summary>One argument for redis-cli, as the runner's command line splits it.</summary>
    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private async Task<string> TradingStateAsync(string strategy)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            select coalesce((select string_agg(concat_ws('|', scope, mode, changed_by, version), ';' order by scope) from trading_state where scope in ('global', $1)), '')
                || ' / ' || (select count(*) from trading_state_changes where scope in ('global', $1))
            """, connection);
        command.Parameters.AddWithValue("strategy:" + strategy);
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
