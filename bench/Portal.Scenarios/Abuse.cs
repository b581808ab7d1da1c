using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using FsCheck;
using FsCheck.Fluent;
using Npgsql;

namespace Portal.Scenarios;

/// <summary>Hostile callers: wrong credentials on every API route, hostile bodies and filters, and a seeded generated-input run.</summary>
public sealed partial class Abuse(Report report, Uri baseUrl, Keys keys, string runId, string connectionString)
{
    private static readonly (string Method, string Path, string? Body)[] Routes =
    [
        ("POST", "api/orders", Orders.Market("abuse-auth", "abuse", "AAPL", "buy", 1)),
        ("GET", "api/orders/abuse-auth", null),
        ("GET", "api/limits", null),
        ("GET", "api/limits/history", null),
        ("GET", "api/limits/pending", null),
        ("PUT", "api/limits", """{"reason":"abuse","limits":{"maxOrderValueUsd":1}}"""),
        ("POST", "api/limits/pending/1/approve", null),
        ("POST", "api/limits/pending/1/reject", null),
        ("POST", "api/emergency/stop", """{"reason":"abuse","mode":"halt"}"""),
        ("POST", "api/emergency/resume", """{"reason":"abuse"}"""),
        ("POST", $"api/emergency/resume/{Guid.Empty}/approve", null),
        ("POST", $"api/emergency/resume/{Guid.Empty}/reject", null),
        ("GET", "api/trading-state", null),
        ("POST", "api/audit/verify", null),
        ("GET", "api/audit/export", null),
        ("GET", "api/audit/export/manifest", null),
        ("GET", "api/account/me", null),
    ];

    private static readonly HashSet<string> PersonOnly =
        ["api/limits/pending/1/approve", "api/limits/pending/1/reject", "api/emergency/resume", $"api/emergency/resume/{Guid.Empty}/approve",
         $"api/emergency/resume/{Guid.Empty}/reject", "api/account/me"];

    public async Task CredentialsAsync()
    {
        report.Section("abuse: every API route with no key, a revoked key, a forged session cookie, a key without the scope");
        using var anonymous = new Api(baseUrl, null);
        using var revoked = new Api(baseUrl, keys.Revoked);
        using var unknown = new Api(baseUrl, "pk_" + new string('x', 40));
        using var wrongScope = new Api(baseUrl, keys.ObservationsOnly);
        // Sent from Portal's own origin, so the cross-site guard lets it through and authentication itself must refuse the cookie.
        var forgedCookie = new[]
        {
            new KeyValuePair<string, string>("Cookie", "portal.session=CfDJ8" + Convert.ToBase64String(Guid.NewGuid().ToByteArray()) + "forged"),
            new KeyValuePair<string, string>("Origin", baseUrl.GetLeftPart(UriPartial.Authority)),
        };
        var failures = new List<string>();
        var checkedCount = 0;
        foreach (var (method, path, body) in Routes)
        {
            foreach (var (name, api, headers) in new[] { ("no key", anonymous, null), ("revoked key", revoked, null), ("unknown key", unknown, null), ("forged cookie", anonymous, forgedCookie) })
            {
                var answer = await api.SendAsync(new HttpMethod(method), path, body, headers);
                checkedCount++;
                if (answer.Status != 401) failures.Add($"{method} /{path} {name}: {answer.Status}");
            }
            // A key without the route's scope is 403; routes only a person may use answer a key 401 (it is not a
            // person's session); any valid key may read the trading state.
            var scoped = await wrongScope.SendAsync(new HttpMethod(method), path, body);
            checkedCount++;
            var allowed = path == "api/trading-state" ? [200] : PersonOnly.Contains(path) ? new[] { 401, 403 } : [403];
            if (!allowed.Contains(scoped.Status)) failures.Add($"{method} /{path} wrong scope: {scoped.Status} (expected {string.Join(" or ", allowed)})");
        }
        report.Expect(failures.Count == 0, $"{checkedCount} requests: 401 without valid credentials, 403 without the scope{(failures.Count > 0 ? ": " + string.Join("; ", failures.Take(6)) : "")}");
        var halted = await anonymous.SendAsync(HttpMethod.Get, "health/ready");
        report.Expect(halted.Status == 200, "none of them halted trading or changed limits (still ready)");
    }

    public async Task HostileBodiesAsync()
    {
        report.Section("abuse: hostile bodies and filters (each must be a 4xx problem, never a 500, and leave no order row)");
        using var api = new Api(baseUrl, keys.All);
        var cases = new List<(string Name, HttpMethod Method, string Path, string Body)>
        {
            ("body over 16 KiB", HttpMethod.Post, "api/orders", Set("strategyId", "\"" + new string('a', 20_000) + "\"")),
            ("JSON nested 100 deep", HttpMethod.Post, "api/orders", new string('[', 100) + new string(']', 100)),
            ("object nested 20 deep", HttpMethod.Post, "api/orders", Set("strategyId", string.Concat(Enumerable.Repeat("{\"a\":", 20)) + "1" + new string('}', 20))),
            ("quantity as a string that is no number", HttpMethod.Post, "api/orders", Set("quantity", "\"10 shares\"")),
            ("quantity as object", HttpMethod.Post, "api/orders", Set("quantity", "{\"v\":1}")),
            ("quantity overflows decimal", HttpMethod.Post, "api/orders", Set("quantity", "79228162514264337593543950336")),
            ("quantity 1e400", HttpMethod.Post, "api/orders", Set("quantity", "1e400")),
            ("quantity with 30 decimals", HttpMethod.Post, "api/orders", Set("quantity", "1.000000000000000000000000000001")),
            ("quantity NaN", HttpMethod.Post, "api/orders", Set("quantity", "NaN")),
            ("limit price overflows", HttpMethod.Post, "api/orders", Set("type", "\"limit\",\"limitPrice\":1e40")),
            ("symbol with control characters", HttpMethod.Post, "api/orders", Set("symbol", "\"AA\\u0000PL\"")),
            ("symbol with right-to-left override", HttpMethod.Post, "api/orders", Set("symbol", "\"\\u202eLPAA\"")),
            ("symbol in full-width letters", HttpMethod.Post, "api/orders", Set("symbol", "\"ＡＡＰＬ\"")),
            ("symbol as SQL", HttpMethod.Post, "api/orders", Set("symbol", "\"AAPL'; drop table orders;--\"")),
            ("clientOrderId as SQL", HttpMethod.Post, "api/orders", Set("clientOrderId", "\"x' or '1'='1\"")),
            ("clientOrderId of 49 characters", HttpMethod.Post, "api/orders", Set("clientOrderId", "\"" + new string('a', 49) + "\"")),
            ("lone surrogate in strategyId", HttpMethod.Post, "api/orders", Set("strategyId", "\"\\ud800\"")),
            ("duplicate property", HttpMethod.Post, "api/orders", Set("side", "\"buy\",\"side\":\"sell\"")),
            ("not JSON", HttpMethod.Post, "api/orders", "clientOrderId=1&symbol=AAPL"),
            ("JSON null", HttpMethod.Post, "api/orders", "null"),
            ("empty body", HttpMethod.Post, "api/orders", ""),
            ("limits: wrong types", HttpMethod.Put, "api/limits", """{"reason":"x","limits":{"maxOrderValueUsd":"lots"}}"""),
            ("limits: decimal overflow", HttpMethod.Put, "api/limits", """{"reason":"x","limits":{"maxOrderValueUsd":1e400}}"""),
            ("limits: lone surrogate in reason", HttpMethod.Put, "api/limits", """{"reason":"\ud800","limits":{"maxOrderValueUsd":1}}"""),
            ("limits: body over 16 KiB", HttpMethod.Put, "api/limits", "{\"reason\":\"" + new string('r', 20_000) + "\",\"limits\":{}}"),
            ("halt: lone surrogate in reason", HttpMethod.Post, "api/emergency/stop", """{"reason":"\udc00","mode":"halt"}"""),
            ("limits: nested 100 deep", HttpMethod.Put, "api/limits", new string('[', 100) + new string(']', 100)),
            ("halt: unknown mode", HttpMethod.Post, "api/emergency/stop", """{"reason":"x","mode":"explode"}"""),
            ("halt: strategyId with control characters", HttpMethod.Post, "api/emergency/stop", """{"reason":"x","mode":"halt","strategyId":"a\u0007b"}"""),
        };
        var failures = new List<string>();
        foreach (var (name, method, path, body) in cases)
        {
            var answer = await api.SendAsync(method, path, body);
            if (answer.Status is < 400 or >= 500 || answer.ContentType != "application/problem+json") failures.Add($"{name}: {answer.Status} {answer.ContentType}");
        }
        foreach (var (name, path) in new[]
                 {
                     ("export filter as SQL", "api/audit/export?types=order.accepted'%20or%20'1'='1&actor=x';--&from=abc"),
                     ("export range reversed and huge", "api/audit/export?from=99999999999999999999&to=-1"),
                     ("verify unknown mode", "api/audit/verify?mode=';drop%20table%20audit_events;--"),
                     ("order id with SQL", "api/orders/x'%20or%20'1'='1"),
                     ("order id with control characters", "api/orders/%00%01%02"),
                 })
        {
            var answer = await api.SendAsync(path.StartsWith("api/audit/verify", StringComparison.Ordinal) ? HttpMethod.Post : HttpMethod.Get, path);
            if (answer.Status is < 400 or >= 500) failures.Add($"{name}: {answer.Status}");
        }
        report.Expect(failures.Count == 0, $"{cases.Count + 5} hostile requests: 4xx problem details, no 500{(failures.Count > 0 ? ": " + string.Join("; ", failures) : "")}");

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select count(*) from orders where strategy_id = $1 or client_order_id like '%''%'", connection);
        command.Parameters.AddWithValue($"{runId}-hostile");
        var rows = (long)(await command.ExecuteScalarAsync())!;
        report.Expect(rows == 0, $"hostile requests left no order row: {rows}");
        await using var count = new NpgsqlCommand("select count(*) from orders", connection);
        report.Line($"orders table still there: {(long)(await count.ExecuteScalarAsync())!} rows");

        string Set(string field, string value)
        {
            var body = Orders.Market($"{runId}-h{Interlocked.Increment(ref _hostile)}", $"{runId}-hostile", "AAPL", "buy", 1);
            var start = body.IndexOf($"\"{field}\":", StringComparison.Ordinal) + field.Length + 3;
            var end = body.IndexOfAny([',', '}'], body[start] == '"' ? body.IndexOf('"', start + 1) : start);
            return body[..start] + value + body[end..];
        }
    }

    private static int _hostile;

    /// <summary>
    /// Strategies belong to keys: orders under another key's strategy, under the drill strategy (own global counters, never
    /// auto-halted) and under Portal's reserved prefix are 403 for every key, the all-strategies one included; the
    /// attacker's oversized orders under the victim's id leave the victim trading.
    /// </summary>
    public async Task StrategyIdentityAsync()
    {
        report.Section("abuse: strategy identity (orders under strategies the key may not trade)");
        using var attacker = new Api(baseUrl, keys.Attacker);
        using var everything = new Api(baseUrl, keys.All);
        using var victim = new Api(baseUrl, keys.Victim);
        var failures = new List<string>();
        var sent = 0;
        async Task ExpectForbiddenAsync(string who, Api api, string strategyId, decimal quantity)
        {
            var answer = await api.PostOrderAsync(Orders.Market($"{runId}-id{Interlocked.Increment(ref _hostile)}", strategyId, "AAPL", "buy", quantity));
            sent++;
            if (answer.Status != 403) failures.Add($"{who} under '{strategyId}': {answer.Status} {answer.Reason}");
        }
        foreach (var strategyId in new[] { Keys.VictimStrategy, "drill", "DRILL", "portal-demo" })
            await ExpectForbiddenAsync("attacker key", attacker, strategyId, 1);
        foreach (var strategyId in new[] { "drill", "Drill", "portal-anything" })
            await ExpectForbiddenAsync("all-strategies key", everything, strategyId, 1);
        // Oversized orders under the victim's id: with the victim's key three of these would auto-halt it.
        for (var i = 0; i < 5; i++) await ExpectForbiddenAsync("attacker key (oversized)", attacker, Keys.VictimStrategy, 9_000);
        report.Expect(failures.Count == 0, $"{sent} orders under strategies the key may not trade: all 403{(failures.Count > 0 ? ": " + string.Join("; ", failures.Take(6)) : "")}");
        var own = await victim.PostOrderAsync(Orders.Market($"{runId}-victim-1", Keys.VictimStrategy, "AAPL", "buy", 1));
        report.Expect(own.Status == 201, $"the victim still trades its own strategy after the attack: {own.Status} {own.Reason}");

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select count(*) from orders where strategy_id in ('drill', 'DRILL', 'Drill') and starts_with(client_order_id, $1)", connection);
        command.Parameters.AddWithValue($"{runId}-id");
        var rows = (long)(await command.ExecuteScalarAsync())!;
        report.Expect(rows == 0, $"no order row under the drill strategy from the API: {rows}");
    }

    /// <summary>
    /// FsCheck-generated order requests, seeded (same seed, same cases), sent over loopback HTTP to the running instances.
    /// Cases mix well-formed orders (some far beyond a limit) with mutations: wrong types, extreme and malformed numbers,
    /// odd symbols and ids, missing and unknown fields. Expected: never a 5xx other than a 503 refusal, and no accepted
    /// order that breaks an order-level limit (checked afterwards in SQL against the limits in force).
    /// </summary>
    public async Task GeneratedInputAsync(Api[] apis, int cases, int seed, int concurrency)
    {
        report.Section($"abuse: {cases:N0} generated order requests (FsCheck, seed {seed}), over loopback HTTP to {apis.Length} instances");
        var statuses = new ConcurrentDictionary<int, int>();
        var serverErrors = new ConcurrentQueue<string>();
        var watch = Stopwatch.StartNew();
        await InChunksAsync(apis, cases, concurrency, OrderBodyGenerator($"{runId}-g"), (ulong)seed * 1_000_003UL, async (api, chunk, bodies) =>
        {
            for (var i = 0; i < bodies.Length; i++)
            {
                var body = bodies[i].Replace("#ID#", $"{chunk}-{i}", StringComparison.Ordinal);
                var answer = await api.PostOrderAsync(body);
                statuses.AddOrUpdate(answer.Status, 1, (_, c) => c + 1);
                if (answer.Status >= 500 && answer.Status != 503 || answer.Status == 0) serverErrors.Enqueue($"chunk {chunk} case {i}: {answer.Status} {body[..Math.Min(body.Length, 200)]}");
            }
        });
        report.Line($"{cases:N0} cases in {watch.Elapsed.TotalSeconds:F1} s ({cases / watch.Elapsed.TotalSeconds:F0}/s); status codes: " +
                    string.Join("  ", statuses.OrderBy(p => p.Key).Select(p => $"{p.Key}: {p.Value}")));
        report.Expect(serverErrors.IsEmpty, $"no 500 (nor 502, nor a dropped connection): {serverErrors.Count}{(serverErrors.IsEmpty ? "" : " e.g. " + string.Join(" | ", serverErrors.Take(3)))}");

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        // Order-level limits of the version in force; position and exposure limits depend on the whole book, and the
        // fuzz orders are small next to them (see the README).
        await using var command = new NpgsqlCommand("""
            with l as (select limits from limit_versions where state = 'active' order by version desc limit 1)
            select count(*) filter (where o.quantity > (l.limits->>'MaxOrderQuantity')::numeric),
                   count(*) filter (where o.quantity * coalesce(o.limit_price, o.reference_price) > (l.limits->>'MaxOrderValueUsd')::numeric),
                   count(*) filter (where o.limit_price is not null and abs(o.limit_price - o.reference_price) > o.reference_price * (l.limits->>'PriceCollarPct')::numeric),
                   count(*)
            from orders o, l where o.decision = 'accepted' and starts_with(o.client_order_id, $1)
            """, connection);
        command.Parameters.AddWithValue($"{runId}-g");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var (quantity, value, collar, accepted) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
        report.Expect(quantity + value + collar == 0,
            $"no accepted generated order breaks a limit: {accepted} accepted; over MaxOrderQuantity {quantity}, over MaxOrderValueUsd {value}, outside the collar {collar}");
    }

    /// <summary>
    /// Generates <paramref name="cases"/> in chunks of 1,000, each from its own seed (<paramref name="seed"/> + chunk number, so
    /// any case can be regenerated without the ones before it), and hands each chunk to one of <paramref name="concurrency"/>
    /// workers spread over the instances.
    /// </summary>
    private static Task InChunksAsync<T>(Api[] apis, int cases, int concurrency, Gen<T> generator, ulong seed, Func<Api, int, T[], Task> send)
    {
        const int Chunk = 1000;
        var next = -1;
        return Task.WhenAll(Enumerable.Range(0, concurrency).Select(worker => Task.Run(async () =>
        {
            var api = apis[worker % apis.Length];
            while (true)
            {
                var chunk = Interlocked.Increment(ref next);
                if (chunk * Chunk >= cases) return;
                await send(api, chunk, generator.Sample(Math.Min(Chunk, cases - chunk * Chunk), new Rnd(seed + (ulong)chunk), 10));
            }
        })));
    }

    /// <summary>A JSON body per case; <c>#ID#</c> is replaced by a unique suffix so valid cases are new orders.</summary>
    private static Gen<string> OrderBodyGenerator(string idPrefix)
    {
        var symbol = Gen.Frequency(
            (8, Gen.Elements(Orders.Symbols).Select(s => Json(s))),
            (1, Gen.Elements("zz", "", " AAPL", "AAPL ", "aapl", "ＡＡＰＬ", "AA\\u0000PL", "\\u202eLPAA", "A'--", "%s%n", "<script>", "AAPL\\nMSFT").Select(s => $"\"{s}\"")),
            (1, Gen.Elements("1", "null", "[]", "{}", "true")));
        var side = Gen.Frequency((9, Gen.Elements("\"buy\"", "\"sell\"")), (1, Gen.Elements("\"BUY\"", "\"short\"", "0", "null", "\"\"")));
        var quantity = Gen.Frequency(
            (5, Gen.Choose(1, 20).Select(q => q.ToString(CultureInfo.InvariantCulture))),
            (2, Gen.Choose(1, 1_000_000).Select(q => q.ToString(CultureInfo.InvariantCulture))),
            (1, Gen.Elements("0", "-1", "1.5", "0.000000001", "1e3", "1E+2", "1e400", "-0", "79228162514264337593543950336", "99999999999999999999999999999.9",
                "\"5\"", "null", "true", "[1]", "{}", "NaN", "Infinity", "0x10", "01", "1_000")));
        var type = Gen.Frequency((6, Gen.Constant("market")), (3, Gen.Constant("limit")), (1, Gen.Elements("stop", "MARKET", "", "limit ")));
        var limitPrice = Gen.Frequency(
            (5, Gen.Choose(1, 1200).Select(p => (p * 0.5m).ToString(CultureInfo.InvariantCulture))),
            (1, Gen.Elements("0", "-5", "1e30", "0.001", "228.505", "\"228\"", "null", "1e-30")));
        var timeInForce = Gen.Frequency((9, Gen.Elements("\"day\"", "\"gtc\"", "\"ioc\"", "\"fok\"")), (1, Gen.Elements("\"DAY\"", "\"week\"", "1", "null")));
        var clientOrderId = Gen.Frequency(
            (9, Gen.Constant($"\"{idPrefix}#ID#\"")),
            (1, Gen.Elements("\"\"", "null", "1", $"\"{new string('x', 49)}\"", "\"a b\"", "\"é\"", "\"x'or'1'='1\"", "\"../../etc\"")));
        var strategy = Gen.Frequency((9, Gen.Choose(0, 9).Select(s => $"\"{idPrefix}-s{s}\"")), (1, Gen.Elements("\"\"", "null", $"\"{new string('s', 65)}\"", "\"\\u0007\"")));
        var shape = Gen.Frequency((8, Gen.Constant(0)), (1, Gen.Constant(1)), (1, Gen.Constant(2)));
        return from id in clientOrderId
               from s in strategy
               from sym in symbol
               from sd in side
               from q in quantity
               from t in type
               from p in limitPrice
               from tif in timeInForce
               from variant in shape
               select Body(id, s, sym, sd, q, t, p, tif, variant);
    }

    private static string Json(string s) => $"\"{s}\"";

    private static string Body(string id, string strategy, string symbol, string side, string quantity, string type, string price, string tif, int variant)
    {
        var priceField = type == "limit" ? $",\"limitPrice\":{price}" : "";
        var fields = $"\"clientOrderId\":{id},\"strategyId\":{strategy},\"symbol\":{symbol},\"side\":{side},\"quantity\":{quantity},\"type\":\"{type}\"{priceField},\"timeInForce\":{tif}";
        return variant switch
        {
            1 => "{" + fields[(fields.IndexOf(',', StringComparison.Ordinal) + 1)..] + "}",   // clientOrderId missing
            2 => "{" + fields + ",\"extra\":" + quantity + "}",                                 // unknown field
            _ => "{" + fields + "}",
        };
    }
}

/// <summary>
/// The API keys the runner creates: one with every scope and every non-reserved strategy, one with only 'observations',
/// one revoked, and two orders keys that may trade only their own strategy (victim and attacker).
/// </summary>
public sealed record Keys(string All, string ObservationsOnly, string Revoked, string Victim, string Attacker)
{
    public const string VictimStrategy = "abuse-victim";
    public const string AttackerStrategy = "abuse-attacker";
}
