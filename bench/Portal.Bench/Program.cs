using System.Diagnostics;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using Portal.Bench;
using Portal.Domain.MarketData;
using Portal.Domain.Risk;
using Portal.Domain.Trading;

// Never measure a scenario that does not decide as its name says.
Scenario.Verify();

if (args.Contains("--drift"))
{
    DriftQuickCheck.Run(runs: 5);
    return 0;
}

if (args.Contains("--ticks"))
{
    TickCheck.Run(TimeSpan.FromSeconds(3));
    return 0;
}

if (args.Contains("--quick"))
{
    QuickCheck.Run(TimeSpan.FromSeconds(args.Contains("--long") ? 3 : 1));
    return 0;
}

// Default: every benchmark, a moderate job (this machine is shared, so fewer but longer iterations).
var config = DefaultConfig.Instance
    .AddJob(Job.Default.WithWarmupCount(5).WithIterationCount(15).WithLaunchCount(1).WithId("PreTrade"))
    .AddDiagnoser(MemoryDiagnoser.Default)
    .AddColumn(StatisticColumn.OperationsPerSecond, StatisticColumn.P95)
    .WithOptions(ConfigOptions.JoinSummary);
BenchmarkSwitcher.FromAssembly(typeof(PreTradeCheckBenchmarks).Assembly)
    .Run(args.Length == 0 ? ["--filter", "*"] : args, config);
return 0;

/// <summary>
/// A stopwatch loop per case with the thread's allocation counter: a quick sanity check (seconds,
/// not minutes) of decisions per second and bytes per decision. BenchmarkDotNet is the reference.
/// </summary>
internal static class QuickCheck
{
    public static void Run(TimeSpan perCase)
    {
        var portfolio = Scenario.Portfolio();
        Console.WriteLine($"{"case",-20} {"",-46} {"decisions/s",14} {"ns/decision",12} {"bytes/decision",15}");
        foreach (var c in Scenario.Cases)
        {
            for (var i = 0; i < 100_000; i++) PreTradeCheck.Evaluate(c.Order, portfolio, Scenario.Limits, c.Counters, c.Price, SymbolDataStatus.Ok, TradingMode.Active);
            long n = 0, sink = 0;
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < perCase)
            {
                for (var i = 0; i < 10_000; i++)
                    sink += (int)PreTradeCheck.Evaluate(c.Order, portfolio, Scenario.Limits, c.Counters, c.Price, SymbolDataStatus.Ok, TradingMode.Active).Reason;
                n += 10_000;
            }
            watch.Stop();
            var bytes = GC.GetAllocatedBytesForCurrentThread() - allocated;
            GC.KeepAlive(sink);
            Console.WriteLine($"{c.Id,-20} {c.Name,-46} {n / watch.Elapsed.TotalSeconds,14:N0} {watch.Elapsed.TotalNanoseconds / n,12:F1} {(double)bytes / n,15:F3}");
        }
    }
}

/// <summary>
/// <c>--ticks</c>: <see cref="TickValidator.Validate"/> plus <see cref="TickValidator.Status"/> (what the ingest
/// does per tick under its lock) on one thread, over random walks of ten symbols: the domain's share of the
/// cost of a tick, without HTTP or JSON.
/// </summary>
internal static class TickCheck
{
    public static void Run(TimeSpan duration)
    {
        string[] symbols = ["AAPL", "MSFT", "SPY", "QQQ", "NVDA", "AMZN", "GOOGL", "META", "JPM", "TSLA"];
        var random = new Random(7);
        var ticks = new Tick[100_000];
        var prices = symbols.Select(_ => 100m).ToArray();
        for (var i = 0; i < ticks.Length; i++)
        {
            var s = i % symbols.Length;
            prices[s] = Math.Clamp(prices[s] + random.Next(1, 4) * 0.01m * (random.Next(2) == 0 ? -1 : 1), 90m, 110m);
            ticks[i] = new Tick(symbols[s], prices[s], prices[s] - 0.01m, prices[s] + 0.01m, 100m, default);
        }
        var validator = new TickValidator();
        var start = new DateTimeOffset(2026, 1, 5, 14, 30, 0, TimeSpan.Zero);
        long n = 0, accepted = 0;
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < duration)
        {
            foreach (var template in ticks)
            {
                // One microsecond apart: in order, no gaps, never stale.
                var now = start.AddTicks(10 * n++);
                var tick = template with { Timestamp = now };
                if (validator.Validate(in tick, now).Accepted) accepted++;
                _ = validator.Status(tick.Symbol, now);
            }
        }
        watch.Stop();
        var bytes = GC.GetAllocatedBytesForCurrentThread() - allocated;
        Console.WriteLine($"TickValidator, one thread: {n / watch.Elapsed.TotalSeconds:N0} ticks/s, {watch.Elapsed.TotalNanoseconds / n:F0} ns/tick, " +
            $"{(double)bytes / n:F2} bytes/tick, {(double)accepted / n:P2} accepted; {Environment.ProcessorCount} cores, load average " +
            (File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a"));
    }
}
