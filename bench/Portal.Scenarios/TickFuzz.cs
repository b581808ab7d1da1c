using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using Npgsql;

namespace Portal.Scenarios;

/// <summary>The generated-input run against <c>POST /api/market-data/ticks</c>.</summary>
public sealed partial class Abuse
{
    /// <summary>
    /// FsCheck-generated tick batches, seeded, sent over loopback HTTP to the running instances. Ticks mix plausible prices
    /// (within half a percent of the symbol's last reference price, with timestamps around now) with mutations: zero,
    /// negative, huge and non-finite numbers, numbers as strings, crossed quotes, timestamps far off or malformed, odd
    /// symbols, and broken batch shapes. Expected: never a 5xx other than a 503 refusal; every 200 reply carries one
    /// verdict per tick sent; and no accepted tick that a rule refuses whatever the feed's state (non-positive or
    /// non-finite price, negative field, bid above ask, timestamp beyond the allowed skew or age).
    /// </summary>
    public async Task GeneratedTicksAsync(Api[] apis, int cases, int seed, int concurrency)
    {
        report.Section($"abuse: {cases:N0} generated tick batches (FsCheck, seed {seed}), over loopback HTTP to {apis.Length} instances");
        var generator = TickBatchGenerator(await ReferencePricesAsync());
        var statuses = new ConcurrentDictionary<int, int>();
        var refusals = new ConcurrentDictionary<string, int>();
        var failures = new ConcurrentQueue<string>();
        long ticksSent = 0, ticksAccepted = 0;
        var watch = Stopwatch.StartNew();
        // Seeds apart from the order run's, so the two runs do not share cases.
        await InChunksAsync(apis, cases, concurrency, generator, (ulong)seed * 2_000_003UL, async (api, chunk, batches) =>
        {
            for (var i = 0; i < batches.Length; i++)
            {
                var sentAt = DateTimeOffset.UtcNow;
                var batch = batches[i];
                var (answer, body) = await api.PostForBodyAsync("api/market-data/ticks", batch.Json(sentAt));
                statuses.AddOrUpdate(answer.Status, 1, (_, c) => c + 1);
                var where = $"chunk {chunk} case {i}";
                if (answer.Status >= 500 && answer.Status != 503 || answer.Status == 0)
                    failures.Enqueue($"{where}: {answer.Status}");
                else if (answer.Status == 400 && answer.ContentType != "application/problem+json")
                    failures.Enqueue($"{where}: 400 without problem details");
                else if (answer.Status == 200)
                {
                    var verdicts = Verdicts(body);
                    Interlocked.Add(ref ticksSent, batch.Ticks.Length);
                    if (verdicts is null || verdicts.Length != batch.Ticks.Length)
                    {
                        failures.Enqueue($"{where}: {verdicts?.Length.ToString(CultureInfo.InvariantCulture) ?? "no"} verdicts for {batch.Ticks.Length} ticks");
                        continue;
                    }
                    for (var t = 0; t < verdicts.Length; t++)
                    {
                        if (verdicts[t] is { } reason)
                        {
                            refusals.AddOrUpdate(reason, 1, (_, c) => c + 1);
                            continue;
                        }
                        Interlocked.Increment(ref ticksAccepted);
                        if (batch.Ticks[t].BreaksAStatelessRule(sentAt, DateTimeOffset.UtcNow) is { } broken)
                            failures.Enqueue($"{where} tick {t} accepted although {broken}");
                    }
                }
            }
        });
        report.Line($"{cases:N0} batches in {watch.Elapsed.TotalSeconds:F1} s ({cases / watch.Elapsed.TotalSeconds:F0}/s); status codes: " +
                    string.Join("  ", statuses.OrderBy(p => p.Key).Select(p => $"{p.Key}: {p.Value}")) +
                    $"; in the 200s {ticksSent:N0} ticks, {ticksAccepted:N0} accepted");
        report.Line("refused ticks: " + string.Join("  ", refusals.OrderByDescending(p => p.Value).Select(p => $"{p.Key}: {p.Value}")));
        report.Expect(failures.IsEmpty,
            $"no 5xx or dropped connection, a verdict per tick, no accepted tick that breaks a stateless rule: {failures.Count}" +
            (failures.IsEmpty ? "" : " e.g. " + string.Join(" | ", failures.Take(3))));
    }

    /// <summary>Each symbol's last reference price, so generated prices can be close enough to be accepted.</summary>
    private async Task<Dictionary<string, decimal>> ReferencePricesAsync()
    {
        var prices = Orders.Symbols.ToDictionary(s => s, _ => 100m);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "select distinct on (symbol) symbol, reference_price from orders where reference_price is not null order by symbol, created_at desc", connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) prices[reader.GetString(0)] = reader.GetDecimal(1);
        return prices;
    }

    /// <summary>Per tick of a 200 reply, null if accepted, else the refusal's reason; null if the reply is not the documented shape.</summary>
    private static string?[]? Verdicts(string? body)
    {
        try
        {
            using var document = JsonDocument.Parse(body ?? "");
            return document.RootElement.GetProperty("results").EnumerateArray()
                .Select(r => r.GetProperty("accepted").GetBoolean() ? null : r.GetProperty("reason").GetString() ?? "").ToArray();
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>A JSON number or other literal as sent, with its value when it is a plain decimal number.</summary>
    private readonly record struct Literal(string Json, decimal? Value)
    {
        public static Literal Of(decimal value) => new(value.ToString(CultureInfo.InvariantCulture), value);
    }

    /// <summary>One generated tick: a field is null when left out; a null offset sends <see cref="Timestamp"/> as it is.</summary>
    private sealed record GeneratedTick(string Symbol, Literal? Price, Literal? Bid, Literal? Ask, Literal? Size, int? OffsetMs, string? Timestamp)
    {
        public string Json(DateTimeOffset now)
        {
            var fields = new List<string> { $"\"symbol\":{Symbol}" };
            if (Price is { } p) fields.Add($"\"price\":{p.Json}");
            if (Bid is { } b) fields.Add($"\"bid\":{b.Json}");
            if (Ask is { } a) fields.Add($"\"ask\":{a.Json}");
            if (Size is { } s) fields.Add($"\"size\":{s.Json}");
            if (OffsetMs is { } offset) fields.Add($"\"timestamp\":\"{now.AddMilliseconds(offset):O}\"");
            else if (Timestamp is not null) fields.Add($"\"timestamp\":{Timestamp}");
            return "{" + string.Join(",", fields) + "}";
        }

        /// <summary>Why no validator may accept this tick whatever came before it; null if some state could accept it.</summary>
        public string? BreaksAStatelessRule(DateTimeOffset sentAt, DateTimeOffset answeredAt)
        {
            if (Price?.Value is not { } price) return $"its price was {Price?.Json ?? "missing"}";
            if (price <= 0m) return $"its price was {price}";
            if (Bid?.Value is < 0m || Ask?.Value is < 0m || Size?.Value is < 0m) return "a field was negative";
            if (Bid?.Value is { } bid && Ask?.Value is { } ask && bid > ask) return $"bid {bid} was above ask {ask}";
            if (OffsetMs is not { } offset) return $"its timestamp was {Timestamp ?? "missing"}";
            // Portal's default skew (2 s) and age (60 s), with the request's own time either side as slack.
            if (sentAt.AddMilliseconds(offset) > answeredAt.AddSeconds(2)) return $"its timestamp was {offset} ms ahead";
            if (sentAt.AddMilliseconds(offset) < sentAt.AddSeconds(-60)) return $"its timestamp was {-offset} ms old";
            return null;
        }
    }

    private sealed record GeneratedBatch(GeneratedTick[] Ticks, string? Source, int Shape)
    {
        public string Json(DateTimeOffset now)
        {
            var ticks = string.Join(",", Ticks.Select(t => t.Json(now)));
            var source = Source is null ? "" : $",\"source\":{Source}";
            return Shape switch
            {
                1 => "{\"ticks\":[]" + source + "}",                  // empty batch
                2 => "{\"ticks\":" + (Ticks.Length > 0 ? Ticks[0].Json(now) : "{}") + "}",   // an object, not an array
                3 => "[" + ticks + "]",                               // an array, not an object
                _ => "{\"ticks\":[" + ticks + "]" + source + "}",
            };
        }
    }

    private static Gen<GeneratedBatch> TickBatchGenerator(IReadOnlyDictionary<string, decimal> referencePrices)
    {
        var symbol = Gen.Frequency(
            (30, Gen.Elements(Orders.Symbols)),
            (1, Gen.Elements("ZZZZ", "", " AAPL", "aapl", "ＡＡＰＬ", "AA\\u0000PL", "\\u202eLPAA", "A'--", "<script>", new string('A', 17))));
        Gen<Literal> Near(string s) => Gen.Choose(-50, 50).Select(bp => Literal.Of(Math.Round(referencePrices[s] * (1m + bp / 10_000m), 2)));
        var odd = Gen.Elements(
            new Literal("0", 0m), new Literal("-1", -1m), new Literal("-0.01", -0.01m), new Literal("0.0000001", 0.0000001m), new Literal("1e9", 1e9m),
            new Literal("1e400", null), new Literal("-1e400", null), new Literal("\"NaN\"", null), new Literal("\"Infinity\"", null),
            new Literal("\"228.5\"", null), new Literal("null", null), new Literal("true", null), new Literal("[1]", null), new Literal("{}", null),
            new Literal("79228162514264337593543950336", null), new Literal("0.123456789012345678901234567890", 0.1234567890123456789012345679m));
        Gen<Literal> Number(string s) => Gen.Frequency((30, Near(s)), (1, odd));
        var offset = Gen.Frequency((20, Gen.Choose(-1_000, 200)), (1, Gen.Choose(-600_000, 600_000)));
        var badTimestamp = Gen.Elements("\"yesterday\"", "12345", "\"2026-13-01T00:00:00Z\"", "\"2026-01-05T14:30:00\"", "null", "{}");
        var tick =
            from sym in symbol
            from price in Gen.Frequency((30, referencePrices.ContainsKey(sym) ? Number(sym) : odd), (1, Gen.Constant(new Literal("", null))))
            from quote in Gen.Frequency((12, Gen.Constant(0)), (12, Gen.Constant(1)), (1, Gen.Constant(2)), (1, Gen.Constant(3)))
            from spread in Gen.Choose(0, 20)
            from oddBid in odd
            from size in Gen.Frequency((15, Gen.Constant<Literal?>(null)), (15, Gen.Choose(1, 1000).Select(q => (Literal?)Literal.Of(q))), (1, odd.Select(l => (Literal?)l)))
            from ms in Gen.Frequency((30, offset.Select(o => (int?)o)), (1, Gen.Constant<int?>(null)))
            from stamp in badTimestamp
            let mid = price.Value ?? 100m
            let half = (quote == 2 ? spread + 1 : spread) / 100m
            select new GeneratedTick(
                $"\"{sym}\"",
                price.Json.Length == 0 ? null : price,
                // 0: no quote; 1: bid below ask; 2: crossed; 3: an odd bid.
                quote switch { 0 => null, 1 => Literal.Of(mid - half), 2 => Literal.Of(mid + half), _ => oddBid },
                quote switch { 0 => null, 2 => Literal.Of(mid - half), _ => Literal.Of(mid + half) },
                size, ms, ms is null && stamp != "null" ? stamp : null);
        var source = Gen.Frequency((24, Gen.Constant<string?>(null)), (5, Gen.Constant<string?>("\"fuzz-feed\"")), (1, Gen.Elements<string?>("\"bad source!\"", "1", "\"\"")));
        return from ticks in Gen.Choose(1, 5).SelectMany(n => tick.ArrayOf(n))
               from src in source
               from shape in Gen.Frequency((30, Gen.Constant(0)), (1, Gen.Choose(1, 3)))
               select new GeneratedBatch(ticks, src, shape);
    }
}
