using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Npgsql;

namespace Portal.Scenarios;

/// <summary>
/// How fast a tick posted to one instance reaches the others: each probe tick is posted to instance A and timed until its
/// shared-market-data notification arrives at a listener of the same database, the delivery every other instance gets
/// (applying it there is an in-memory validation). Figures only: a busy machine makes no statement about Portal.
/// </summary>
public static class SharedTicks
{
    private const string Symbol = "JPM";

    public static async Task MeasureAsync(Report report, Api instanceA, string connectionString, int samples)
    {
        report.Section($"shared market data: {samples} ticks posted to one instance, time until the others are notified");
        var pending = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var latencies = new List<double>();
        var gate = new Lock();
        var lastPrice = 0m;
        decimal LastSeen()
        {
            lock (gate) return lastPrice;
        }
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        connection.Notification += (_, e) =>
        {
            var arrived = Stopwatch.GetTimestamp();
            foreach (var key in pending.Keys)
                if (e.Payload.Contains(key, StringComparison.Ordinal) && pending.TryRemove(key, out var sent))
                    lock (latencies) latencies.Add(Stopwatch.GetElapsedTime(sent, arrived).TotalMilliseconds);
            if (LastPrice(e.Payload) is { } price)
                lock (gate) lastPrice = price;
        };
        await using (var listen = new NpgsqlCommand("listen portal_market_data", connection)) await listen.ExecuteNonQueryAsync();
        using var stop = new CancellationTokenSource();
        var listening = Task.Run(async () =>
        {
            try
            {
                while (true) await connection.WaitAsync(stop.Token);
            }
            catch (OperationCanceledException) { }
        });

        // Probes a cent around the walk's last price, so the validator takes them as ordinary ticks: many at one price
        // would be a flatline, an anomaly that (with a few more later in the run) turns the symbol Suspect.
        var watch = Stopwatch.StartNew();
        while (LastSeen() == 0m && watch.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(50);
        var refused = 0;
        for (var i = 0; i < samples && LastSeen() > 0m; i++)
        {
            var at = DateTimeOffset.UtcNow;
            var key = at.UtcTicks.ToString(CultureInfo.InvariantCulture);
            pending[key] = Stopwatch.GetTimestamp();
            var body = $$"""{"ticks":[{"symbol":"{{Symbol}}","price":{{(LastSeen() + (i % 2 == 0 ? 0.01m : -0.01m)).ToString(CultureInfo.InvariantCulture)}},"timestamp":"{{at:O}}"}]}""";
            var (answer, reply) = await instanceA.PostForBodyAsync("api/market-data/ticks", body);
            if (answer.Status != 200 || reply?.Contains("\"accepted\":1", StringComparison.Ordinal) != true)
            {
                // Refused (e.g. out of order behind a demo tick stamped a moment later): not shared, not a sample.
                pending.TryRemove(key, out _);
                refused++;
            }
            await Task.Delay(20);
        }
        watch.Restart();
        while (!pending.IsEmpty && watch.Elapsed < TimeSpan.FromSeconds(5)) await Task.Delay(20);
        await stop.CancelAsync();
        await listening;
        lock (latencies) report.Line("post to instance A -> notification to the others: " + Report.Distribution(latencies));
        report.Line($"{refused} probes refused by the validator (not shared), {pending.Count} accepted but never notified within 5 s");
    }

    private static decimal? LastPrice(string payload)
    {
        try
        {
            using var document = JsonDocument.Parse(payload);
            decimal? price = null;
            foreach (var item in document.RootElement.GetProperty("m").EnumerateArray())
                if (item[0].GetString() == "t" && item[1].GetString() == Symbol) price = item[2].GetDecimal();
            return price;
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }
}
