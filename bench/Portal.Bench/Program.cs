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
