using System.Net;
using System.Net.Http.Json;
using System.Text;
using Portal.Domain.Trading;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Tests.Infrastructure;
using StackExchange.Redis;

namespace Portal.Tests.Features.Halt;

/// <summary>
/// An attacker on the Redis network (issue #15): forged messages on the trading-state channel and a forged state key.
/// Postgres is the only authority; Redis may tighten at once but never loosen, and nothing read from Redis reaches Postgres.
/// </summary>
public sealed class ForgedTradingStateTests
{
    private const string Victim = "victim";

    private static string Message(string scope, string mode, string version) =>
        $$"""{"scope":"{{scope}}","mode":"{{mode}}","reason":"forged","changedBy":"x","changedAt":"2030-01-01T00:00:00Z","version":{{version}}}""";

    /// <summary>Each is forged or malformed; each is reported once per instance.</summary>
    private static readonly string[] ForgedMessages =
    [
        Message("strategy:" + Victim, "active", long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        Message("strategy:" + Victim, "reduce_only", long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        Message("strategy:" + Victim, "active", "-1"),
        Message("strategy:" + Victim, "active", "9223372036854775808"),
        Message("strategy:" + Victim, "active", "1"),
        Message("strategy:" + Victim, "ACTIVE", "2"),
        Message("global", "active", long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        Message("strategy:bystander", "halted", long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        "not json at all",
        "{}",
    ];

    private static async Task<string> RefusalReasonAsync(HttpClient orders, string clientOrderId, string strategyId)
    {
        var response = await orders.PostOrderAsync(OrderRequests.Market(clientOrderId, 1m, strategyId: strategyId));
        return response.StatusCode == HttpStatusCode.Created ? "accepted" : (await response.JsonAsync()).GetProperty("reason").GetString()!;
    }

    private static Task<string> TradingStateRowsAsync(PortalFactory portal) => ScalarTextAsync(portal.AppConnectionString, """
        select coalesce((select string_agg(concat_ws('|', scope, mode, reason, changed_by, changed_at, version), E'\n' order by scope) from trading_state), '')
            || E'\n--\n' || coalesce((select string_agg(concat_ws('|', scope, mode, changed_by, version), E'\n' order by id) from trading_state_changes), '')
        """);

    private static async Task<string> ScalarTextAsync(string connectionString, string sql)
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<double> ForgedCountAsync()
    {
        using var stream = new MemoryStream();
        await Prometheus.Metrics.DefaultRegistry.CollectAndExportAsTextAsync(stream);
        return Encoding.UTF8.GetString(stream.ToArray()).Split('\n')
            .Where(line => line.StartsWith("portal_trading_state_forged_total{", StringComparison.Ordinal))
            .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    private static int RedisEvents(RecordingSecurityEventSink sink) => sink.Events.Count(e => e.Method == "redis-message");

    [Fact]
    public async Task Forged_messages_never_lift_a_halt_on_either_instance_never_reach_Postgres_and_a_later_halt_refuses_at_once()
    {
        var sink = new RecordingSecurityEventSink();
        await using var a = await PortalFactory.StartAsync(configure: builder => RecordingSecurityEventSink.Install(builder, sink));
        await using var b = await a.StartPeerAsync();
        a.SetPrice("AAPL", 100m);
        b.SetPrice("AAPL", 100m);
        var pager = await a.ClientWithScopesAsync(Scopes.Halt);
        var ordersOnA = await a.ClientWithScopesAsync(Scopes.Orders);
        var ordersOnB = await b.ClientWithScopesAsync(Scopes.Orders);
        (await pager.PostAsJsonAsync("/api/emergency/stop", new { reason = "victim halted", mode = "halt", strategyId = Victim })).EnsureSuccessStatusCode();
        await Poll.UntilAsync(() => b.Get<TradingStateStore>().ModeFor(Victim) == TradingMode.Halted, "instance B sees the halt");
        var rowsBefore = await TradingStateRowsAsync(a);
        var forgedBefore = await ForgedCountAsync();

        await using var attacker = await ConnectionMultiplexer.ConnectAsync(a.RedisConnectionString);
        var channel = RedisChannel.Literal(a.RedisKeyPrefix + "trading:state-changes");
        foreach (var message in ForgedMessages) await attacker.GetSubscriber().PublishAsync(channel, message);

        // Every forged message is reported by both instances (some only after the re-read of Postgres they cause);
        // should the halt be lifted instead, stop waiting and say so below.
        await Poll.UntilAsync(() => RedisEvents(sink) >= 2 * ForgedMessages.Length
                                    || a.Get<TradingStateStore>().ModeFor(Victim) != TradingMode.Halted || b.Get<TradingStateStore>().ModeFor(Victim) != TradingMode.Halted,
            "both instances report every forged message");
        foreach (var (name, instance, orders) in new[] { ("A", a, ordersOnA), ("B", b, ordersOnB) })
        {
            Assert.Equal(TradingMode.Halted, instance.Get<TradingStateStore>().ModeFor(Victim));
            Assert.Equal("TradingHalted", await RefusalReasonAsync(orders, $"after-forgery-{name}", Victim));
        }
        Assert.True(RedisEvents(sink) >= 2 * ForgedMessages.Length, $"security events: {RedisEvents(sink)}");
        Assert.True(await ForgedCountAsync() - forgedBefore >= 2 * ForgedMessages.Length, "the forged messages are counted in portal_trading_state_forged_total");
        // The forged tightening (a halt of 'bystander' at a version Postgres never issued) is dropped by the first read of
        // Postgres that starts TradingState:UnconfirmedHintGrace (15 s) after it arrived: wait that long and a loaded machine's margin.
        await Poll.UntilAsync(() => a.Get<TradingStateStore>().ModeFor("bystander") == TradingMode.Active && b.Get<TradingStateStore>().ModeFor("bystander") == TradingMode.Active,
            "the unconfirmed forged halt of bystander is dropped", TimeSpan.FromSeconds(60));
        Assert.Equal(rowsBefore, await TradingStateRowsAsync(a));

        var halt = await pager.PostAsJsonAsync("/api/emergency/stop", new { reason = "after the forgery", mode = "halt" });
        var reply = await halt.JsonAsync();
        Assert.Equal("halted", reply.GetProperty("state").GetString());
        Assert.Equal(0, reply.GetProperty("failures").GetArrayLength());
        Assert.Equal("TradingHalted", await RefusalReasonAsync(ordersOnA, "after-new-halt-A", "anyone"));
        await Poll.UntilAsync(() => b.Get<TradingStateStore>().ModeFor("anyone") == TradingMode.Halted, "instance B sees the new halt");
        Assert.Equal("TradingHalted", await RefusalReasonAsync(ordersOnB, "after-new-halt-B", "anyone"));
        Assert.Equal(1, await OrderRequests.ScalarAsync(a.AppConnectionString, "select count(*) from trading_state where scope = 'global' and mode = 'halted'"));
    }

    [Fact]
    public async Task A_forged_halt_with_a_plausible_version_applies_at_once_and_expires_unconfirmed_after_the_grace()
    {
        var sink = new RecordingSecurityEventSink();
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?> { ["TradingState:UnconfirmedHintGrace"] = "00:00:01" },
            configure: builder => RecordingSecurityEventSink.Install(builder, sink));
        var rowsBefore = await TradingStateRowsAsync(portal);
        await using var attacker = await ConnectionMultiplexer.ConnectAsync(portal.RedisConnectionString);

        await attacker.GetSubscriber().PublishAsync(RedisChannel.Literal(portal.RedisKeyPrefix + "trading:state-changes"), Message("strategy:bystander", "halted", "0"));

        // A tightening hint is believed at once (a halt must not wait for Postgres) ...
        await Poll.UntilAsync(() => portal.Get<TradingStateStore>().ModeFor("bystander") == TradingMode.Halted, "the hint halts at once");
        // ... but Postgres never confirms it, so it is dropped after the grace, reported, and never written to Postgres.
        await Poll.UntilAsync(() => portal.Get<TradingStateStore>().ModeFor("bystander") == TradingMode.Active, "the unconfirmed hint expires");
        Assert.Contains(sink.Events, e => e.Method == "redis-message" && e.Subject == "strategy:bystander");
        Assert.Equal(rowsBefore, await TradingStateRowsAsync(portal));
    }

    [Fact]
    public async Task A_forged_active_state_key_is_not_believed_and_is_restored_from_Postgres()
    {
        var sink = new RecordingSecurityEventSink();
        await using var a = await PortalFactory.StartAsync(configure: builder => RecordingSecurityEventSink.Install(builder, sink));
        a.SetPrice("AAPL", 100m);
        await a.Get<KillSwitch>().HaltAsync("victim halted", HaltMode.Halt, Victim, "test", automatic: false, CancellationToken.None);
        var rowsBefore = await TradingStateRowsAsync(a);
        await using var attacker = await ConnectionMultiplexer.ConnectAsync(a.RedisConnectionString);
        var key = a.RedisKeyPrefix + "trading:state:strategy:" + Victim;

        await attacker.GetDatabase().StringSetAsync(key, Message("strategy:" + Victim, "active", long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        await Poll.UntilAsync(async () => ((string?)await attacker.GetDatabase().StringGetAsync(key))?.Contains("\"mode\":\"halted\"", StringComparison.Ordinal) == true,
            "the key is restored from Postgres");
        Assert.Contains(sink.Events, e => e.Method == "redis-key" && e.Subject == "strategy:" + Victim);
        await using var b = await a.StartPeerAsync();
        b.SetPrice("AAPL", 100m);
        foreach (var instance in new[] { a, b })
            Assert.Equal("TradingHalted", await RefusalReasonAsync(await instance.ClientWithScopesAsync(Scopes.Orders), $"after-key-{Guid.NewGuid():N}"[..20], Victim));
        Assert.Equal(rowsBefore, await TradingStateRowsAsync(a));
    }
}
