using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Portal.Scenarios;

/// <summary>
/// How fast a tick posted to one instance reaches the others: each probe tick is posted to instance A and timed until its
/// shared-market-data notification arrives at a listener of the same database, the delivery every other instance gets
/// (applying it there is an in-memory validation). Figures only: a busy machine makes no statement about Portal.
/// </summary>
public static class SharedTicks
{
    /// <summary>A symbol of its own (<see cref="Program"/> configures it without a demo walk), so the probes' tight price
    /// series cannot make a traded symbol's spike or flatline windows flag the walk that follows them.</summary>
    public const string Symbol = "PROBE";

    public static async Task MeasureAsync(Report report, Api instanceA, string connectionString, int samples)
    {
        report.Section($"shared market data: {samples} ticks posted to one instance, time until the others are notified");
        var pending = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var latencies = new List<double>();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        connection.Notification += (_, e) =>
        {
            var arrived = Stopwatch.GetTimestamp();
            foreach (var key in pending.Keys)
                if (e.Payload.Contains(key, StringComparison.Ordinal) && pending.TryRemove(key, out var sent))
                    lock (latencies) latencies.Add(Stopwatch.GetElapsedTime(sent, arrived).TotalMilliseconds);
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

        var refused = 0;
        for (var i = 0; i < samples; i++)
        {
            var at = DateTimeOffset.UtcNow;
            var key = at.UtcTicks.ToString(CultureInfo.InvariantCulture);
            pending[key] = Stopwatch.GetTimestamp();
            var body = $$"""{"ticks":[{"symbol":"{{Symbol}}","price":{{(100m + i % 7 * 0.03m).ToString(CultureInfo.InvariantCulture)}},"timestamp":"{{at:O}}"}]}""";
            var (answer, reply) = await instanceA.PostForBodyAsync("api/market-data/ticks", body);
            if (answer.Status != 200 || reply?.Contains("\"accepted\":1", StringComparison.Ordinal) != true)
            {
                // Refused: not shared, not a sample.
                pending.TryRemove(key, out _);
                refused++;
            }
            await Task.Delay(20);
        }
        var watch = Stopwatch.StartNew();
        while (!pending.IsEmpty && watch.Elapsed < TimeSpan.FromSeconds(5)) await Task.Delay(20);
        await stop.CancelAsync();
        await listening;
        lock (latencies) report.Line("post to instance A -> notification to the others: " + Report.Distribution(latencies));
        report.Line($"{refused} probes refused by the validator (not shared), {pending.Count} accepted but never notified within 5 s");
    }
}
