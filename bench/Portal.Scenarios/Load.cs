using System.Collections.Concurrent;
using System.Diagnostics;

namespace Portal.Scenarios;

public enum OrderKind { Valid, Collar, Malformed, Repeat, Probe }

/// <summary>One order request and what came back.</summary>
public sealed record Sent(string ClientOrderId, OrderKind Kind, int Instance, Answer Answer, int? ExpectedStatus = null);

/// <summary>Every order request of the run, load and probes alike, for the reconciliation against Postgres.</summary>
public sealed class Ledger
{
    private readonly ConcurrentQueue<Sent> _sent = new();

    public void Record(Sent sent) => _sent.Enqueue(sent);

    public IReadOnlyCollection<Sent> All => _sent;

    public async Task<Answer> ProbeAsync(Api api, int instance, string runId, string strategyId)
    {
        var body = Orders.Probe(runId, strategyId, out var id);
        var answer = await api.PostOrderAsync(body);
        Record(new Sent(id, OrderKind.Probe, instance, answer));
        return answer;
    }
}

/// <summary>
/// Open-loop order load at a target rate over both instances: each worker has a fixed schedule and latency counts
/// from the scheduled send time, so a stalled server cannot hide behind fewer requests (no coordinated omission).
/// Mix: 82 % small valid market orders (buy/sell pairs), 10 % a limit price far off any price (PriceCollar),
/// 5 % malformed (400, must leave no row), 3 % exact repeats of an earlier request (must get the same answer).
/// </summary>
public sealed class LoadRun(Api[] instances, Ledger ledger, string runId, int strategies, int seed)
{
    private static readonly string[] MalformedBodies =
    [
        """{"clientOrderId":"ID","strategyId":"S","symbol":"AAPL","side":"buy","quantity":-1,"type":"market","timeInForce":"day"}""",
        """{"clientOrderId":"ID","strategyId":"S","symbol":"ZZZZ","side":"buy","quantity":1,"type":"market","timeInForce":"day"}""",
        """{"clientOrderId":"ID","strategyId":"S","symbol":"AAPL","side":"buy","quantity":"ten","type":"market","timeInForce":"day"}""",
        """{"clientOrderId":"ID","strategyId":"S","symbol":"AAPL","side":"hold","quantity":1,"type":"market","timeInForce":"day"}""",
        """{"clientOrderId":"ID","strategyId":"S","symbol":"AAPL","side":"buy","quantity":1.5,"type":"market","timeInForce":"day"}""",
        """{"clientOrderId":"ID","strategyId":"S","symbol":"AAPL","side":"buy","quantity":1,"type":"market","timeInForce":"day","extra":1}""",
        """{"clientOrderId":"ID","strategyId":"S","symbol":"AAPL","side":"buy","quantity":1,"type":"market" """,
    ];

    public List<double> Latencies { get; } = [];
    public ConcurrentDictionary<int, int> StatusCounts { get; } = new();
    public ConcurrentDictionary<string, int> Reasons { get; } = new();
    private int _completed;
    public TimeSpan Elapsed { get; private set; }

    public async Task RunAsync(double rate, TimeSpan duration, CancellationToken stop = default)
    {
        // Enough workers that each one waits on a slow reply without the schedule falling behind (up to ~250 ms per request).
        var workers = (int)Math.Clamp(rate / 4, 16, 512);
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(w => Task.Run(() => WorkerAsync(w, workers, rate, duration, started, stop))));
        Elapsed = Stopwatch.GetElapsedTime(started);
    }

    private async Task WorkerAsync(int worker, int workers, double rate, TimeSpan duration, long started, CancellationToken stop)
    {
        var random = new Random(seed * 7919 + worker);
        var instance = worker % instances.Length;
        var api = instances[instance];
        var strategy = $"{runId}-s{worker % strategies}";
        var symbol = Orders.Symbols[worker % Orders.Symbols.Length];
        var latencies = new List<double>();
        (string Id, string Body, int Status)? lastValid = null;
        for (long n = 0; !stop.IsCancellationRequested; n++)
        {
            var due = TimeSpan.FromSeconds((n * workers + worker) / rate);
            if (due >= duration) break;
            var wait = due - Stopwatch.GetElapsedTime(started);
            if (wait > TimeSpan.FromMilliseconds(1)) await Task.Delay(wait, CancellationToken.None);
            var id = $"{runId}-{worker}-{n}";
            var roll = random.Next(100);
            var (kind, body, expected) = roll switch
            {
                < 5 => (OrderKind.Malformed, MalformedBodies[random.Next(MalformedBodies.Length)].Replace("\"ID\"", $"\"{id}\"").Replace("\"S\"", $"\"{strategy}\""), (int?)400),
                < 15 => (OrderKind.Collar, Orders.Limit(id, strategy, symbol, n % 2 == 0 ? "buy" : "sell", 1, "1.00"), 422),
                < 18 when lastValid is { } last => (OrderKind.Repeat, last.Body, last.Status),
                _ => (OrderKind.Valid, Orders.Market(id, strategy, symbol, n % 2 == 0 ? "buy" : "sell", 1), (int?)null),
            };
            if (kind == OrderKind.Repeat) id = lastValid!.Value.Id;
            var answer = await api.PostOrderAsync(body);
            var latency = (Stopwatch.GetElapsedTime(started) - due).TotalMilliseconds;
            ledger.Record(new Sent(id, kind, instance, answer with { LatencyMs = latency }, expected));
            if (kind == OrderKind.Valid && answer.Status is 201 or 422) lastValid = (id, body, answer.Status);
            if (answer.Status != 0) latencies.Add(latency);
            StatusCounts.AddOrUpdate(answer.Status, 1, (_, c) => c + 1);
            if (answer.Reason is { } reason && answer.Status is 422 or 503 or 502) Reasons.AddOrUpdate(reason, 1, (_, c) => c + 1);
            Interlocked.Increment(ref _completed);
        }
        lock (Latencies) Latencies.AddRange(latencies);
    }

    public void Print(Report report, double targetRate)
    {
        var seconds = Elapsed.TotalSeconds;
        report.Line($"target {targetRate:F0} orders/s over {instances.Length} instances; achieved {_completed / seconds:F0} requests/s ({_completed} in {seconds:F1} s)");
        report.Line("latency from scheduled send: " + Report.Distribution(Latencies));
        report.Line("status codes: " + string.Join("  ", StatusCounts.OrderBy(p => p.Key).Select(p => $"{(p.Key == 0 ? "no answer" : p.Key)}: {p.Value}")));
        if (!Reasons.IsEmpty) report.Line("reasons: " + string.Join("  ", Reasons.OrderByDescending(p => p.Value).Take(8).Select(p => $"{p.Key}: {p.Value}")));
    }
}
