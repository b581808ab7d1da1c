using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

/// <summary>
/// The tick mode of Portal.Load (<c>--ticks BATCH</c>): each client posts batches of BATCH ticks to
/// POST /api/market-data/ticks, one request in flight, and the run prints ticks/s and request latency.
/// Every client owns a disjoint set of symbols, so its timestamps are the only ones each symbol sees
/// (no out-of-order refusals between clients); prices walk in small steps (no jumps, spikes or
/// flatlines); a share of ticks (<c>--bad-tick-share</c>) is deliberately crossed, to exercise refusals and quarantine.
/// </summary>
internal sealed class TickLoad(HttpClient http, LoadOptions options)
{
    private static readonly Uri TicksUri = new("/api/market-data/ticks", UriKind.Relative);

    private sealed class Client(int index)
    {
        public int Index { get; } = index;
        public List<long> LatencyTicks { get; } = new(1 << 14);
        public Dictionary<int, long> StatusCodes { get; } = [];
        public long Ticks, Accepted, Refused, Requests;
        public string? FirstUnexpected;
    }

    public async Task<int> RunAsync()
    {
        if (options.Clients > options.Symbols.Length)
        {
            Console.Error.WriteLine($"error: tick mode needs at least one symbol per client ({options.Clients} clients, {options.Symbols.Length} symbols)");
            return 2;
        }
        if (!await WaitReadyAsync()) return 1;

        var clients = Enumerable.Range(0, options.Clients).Select(i => new Client(i)).ToArray();
        var start = Stopwatch.GetTimestamp();
        var warmupEnd = start + (long)(options.Warmup.TotalSeconds * Stopwatch.Frequency);
        var stopAt = start + (long)(((options.Duration ?? TimeSpan.FromSeconds(30)) + options.Warmup).TotalSeconds * Stopwatch.Frequency);
        Console.WriteLine($"ticks: {options.Clients} clients × batches of {options.TickBatch} ticks, {(options.Duration ?? TimeSpan.FromSeconds(30)).TotalSeconds:0.#} s " +
            $"after {options.Warmup.TotalSeconds:0.#} s warm-up, {options.Symbols.Length} symbols, {options.BadTickShare:P1} crossed quotes; " +
            $"{Environment.ProcessorCount} cores, load average {LoadAverage()}");
        await Task.WhenAll(clients.Select(c => Task.Run(() => LoopAsync(c, warmupEnd, stopAt))));
        var measured = Stopwatch.GetElapsedTime(warmupEnd, Stopwatch.GetTimestamp()).TotalSeconds;
        Print(clients, measured);
        return clients.All(c => c.FirstUnexpected is null) ? 0 : 1;
    }

    private async Task<bool> WaitReadyAsync()
    {
        var watch = Stopwatch.StartNew();
        string? last = null;
        while (watch.Elapsed < TimeSpan.FromSeconds(Math.Max(1, options.WaitReadySeconds)))
        {
            try
            {
                var body = Encoding.UTF8.GetBytes($$"""{"source":"load-probe","ticks":[{"symbol":"{{options.Symbols[0]}}","price":100,"timestamp":"{{DateTimeOffset.UtcNow:O}}"}]}""");
                using var response = await http.PostAsync(TicksUri, new ByteArrayContent(body) { Headers = { ContentType = OrderBodies.Json } });
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    Console.WriteLine($"ready after {watch.Elapsed.TotalSeconds:F1} s");
                    return true;
                }
                last = $"{(int)response.StatusCode}: {LoadTool.Truncate(await response.Content.ReadAsStringAsync(), 300)}";
                if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden) break;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                last = ex.Message;
            }
            await Task.Delay(250);
        }
        Console.Error.WriteLine($"error: POST /api/market-data/ticks not answered with 200; last answer: {last}");
        return false;
    }

    private async Task LoopAsync(Client client, long warmupEnd, long stopAt)
    {
        var random = new Random(client.Index * 7919 + 17);
        var symbols = options.Symbols.Where((_, i) => i % options.Clients == client.Index).ToArray();
        // Start well inside the price limits; the probe's price of 100 is a valid last price for the first symbol.
        var prices = symbols.Select(_ => 100m).ToArray();
        var stamp = DateTime.UtcNow;
        var json = new StringBuilder(options.TickBatch * 130);
        var stepTicks = TimeSpan.FromMicroseconds(1).Ticks;
        while (Stopwatch.GetTimestamp() < stopAt)
        {
            json.Clear().Append("""{"source":"load","ticks":[""");
            var now = DateTime.UtcNow;
            // Strictly increasing timestamps per client, so per symbol too.
            stamp = now > stamp ? now : stamp.AddTicks(stepTicks);
            for (var k = 0; k < options.TickBatch; k++)
            {
                var s = k % symbols.Length;
                var step = random.Next(1, 4) * 0.01m * (random.Next(2) == 0 ? -1 : 1);
                prices[s] = Math.Clamp(prices[s] + step, 90m, 110m);
                var price = prices[s];
                var crossed = random.NextDouble() < options.BadTickShare;
                var bid = crossed ? price + 0.02m : price - 0.01m;
                var ask = crossed ? price + 0.01m : price + 0.01m;
                stamp = stamp.AddTicks(stepTicks);
                if (k > 0) json.Append(',');
                json.Append("{\"symbol\":\"").Append(symbols[s])
                    .Append("\",\"price\":").Append(price.ToString(CultureInfo.InvariantCulture))
                    .Append(",\"bid\":").Append(bid.ToString(CultureInfo.InvariantCulture))
                    .Append(",\"ask\":").Append(ask.ToString(CultureInfo.InvariantCulture))
                    .Append(",\"size\":100,\"timestamp\":\"").Append(stamp.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture)).Append("\"}");
            }
            json.Append("]}");
            var body = Encoding.UTF8.GetBytes(json.ToString());

            var sent = Stopwatch.GetTimestamp();
            try
            {
                using var response = await http.PostAsync(TicksUri, new ByteArrayContent(body) { Headers = { ContentType = OrderBodies.Json } });
                var reply = await response.Content.ReadAsByteArrayAsync();
                var done = Stopwatch.GetTimestamp();
                if (sent < warmupEnd) continue;
                client.Requests++;
                client.LatencyTicks.Add(done - sent);
                client.StatusCodes[(int)response.StatusCode] = client.StatusCodes.GetValueOrDefault((int)response.StatusCode) + 1;
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    client.FirstUnexpected ??= $"{(int)response.StatusCode}: {LoadTool.Truncate(Encoding.UTF8.GetString(reply), 300)}";
                    continue;
                }
                using var document = JsonDocument.Parse(reply);
                client.Ticks += options.TickBatch;
                client.Accepted += document.RootElement.GetProperty("accepted").GetInt64();
                client.Refused += document.RootElement.GetProperty("refused").GetInt64();
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                client.FirstUnexpected ??= ex.Message;
            }
        }
    }

    private void Print(Client[] clients, double seconds)
    {
        var latencies = clients.SelectMany(c => c.LatencyTicks).Order().ToArray();
        double Ms(double quantile) => latencies.Length == 0 ? double.NaN
            : latencies[Math.Min(latencies.Length - 1, (int)(quantile * latencies.Length))] * 1000.0 / Stopwatch.Frequency;
        var ticks = clients.Sum(c => c.Ticks);
        var accepted = clients.Sum(c => c.Accepted);
        var refused = clients.Sum(c => c.Refused);
        var requests = clients.Sum(c => c.Requests);
        Console.WriteLine();
        Console.WriteLine($"ticks/s: {ticks / seconds:N0}   ({ticks:N0} ticks in {requests:N0} requests over {seconds:F1} s; requests/s {requests / seconds:N0})");
        Console.WriteLine($"accepted {accepted:N0}, refused {refused:N0} ({(ticks == 0 ? 0 : (double)refused / ticks):P2})");
        Console.WriteLine($"request latency ms: p50 {Ms(0.50):F1}  p90 {Ms(0.90):F1}  p99 {Ms(0.99):F1}  max {Ms(1.0):F1}");
        Console.WriteLine("status codes: " + string.Join(", ", clients.SelectMany(c => c.StatusCodes).GroupBy(p => p.Key).Select(g => $"{g.Key} × {g.Sum(p => p.Value):N0}")));
        Console.WriteLine($"load average after: {LoadAverage()}");
        foreach (var problem in clients.Select(c => c.FirstUnexpected).OfType<string>().Distinct().Take(3)) Console.WriteLine("unexpected: " + problem);
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
