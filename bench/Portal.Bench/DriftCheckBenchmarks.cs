using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Portal.Domain.Statistics;

namespace Portal.Bench;

/// <summary>
/// The nightly drift check's computation for one model: 100 features × 100,000 baseline × 100,000 current observations
/// (seeded; every third feature shifted by 0.1 σ). Each run sorts its columns in place, so every run gets fresh unsorted copies.
/// </summary>
public class DriftCheckBenchmarks
{
    public const int Features = 100;
    public const int Observations = 100_000;

    private (double[] Baseline, double[] Current)[] _source = [];
    private SampleColumn[] _columns = [];

    [GlobalSetup]
    public void Setup() => _source = Generate();

    [IterationSetup]
    public void Copy() => _columns = Fresh(_source);

    [Benchmark]
    public DriftComputationResult Check100Features() => DriftComputation.Run(_columns, DriftThresholds.Default);

    public static (double[] Baseline, double[] Current)[] Generate()
    {
        var random = new Random(20261126);
        return Enumerable.Range(0, Features).Select(f => (Normals(random, 0), Normals(random, f % 3 == 0 ? 0.1 : 0))).ToArray();
    }

    public static SampleColumn[] Fresh((double[] Baseline, double[] Current)[] source) =>
        source.Select((c, f) => new SampleColumn("f" + f, (double[])c.Baseline.Clone(), (double[])c.Current.Clone())).ToArray();

    private static double[] Normals(Random random, double mean)
    {
        var values = new double[Observations];
        for (var i = 0; i < values.Length; i++)
            values[i] = mean + Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        return values;
    }
}

/// <summary><c>--drift</c>: the same computation timed with a stopwatch, a few runs, printing each and the median.</summary>
internal static class DriftQuickCheck
{
    public static void Run(int runs)
    {
        Console.WriteLine($"Drift check: {DriftCheckBenchmarks.Features} features x {DriftCheckBenchmarks.Observations:N0} baseline x {DriftCheckBenchmarks.Observations:N0} current, " +
            $"{Environment.ProcessorCount} cores, load average {LoadAverage()}");
        var source = DriftCheckBenchmarks.Generate();
        var seconds = new List<double>();
        var cpuSeconds = new List<double>();
        for (var run = 0; run <= runs; run++)
        {
            var columns = DriftCheckBenchmarks.Fresh(source);
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            var result = DriftComputation.Run(columns, DriftThresholds.Default);
            watch.Stop();
            var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
            var drifted = result.Report.Features.Count(f => f.Drifted);
            var significant = result.Report.Features.Count(f => f.Significant);
            // Run 0 warms up the JIT and the thread pool.
            // CPU seconds say what the run costs whatever else the machine does; wall time depends on the other tenants.
            Console.WriteLine($"{(run == 0 ? "warm-up" : $"run {run}"),-8} wall {watch.Elapsed.TotalSeconds,6:F3} s  cpu {cpu,6:F3} s  significant {significant,3}  drifted {drifted,3}");
            if (run > 0)
            {
                seconds.Add(watch.Elapsed.TotalSeconds);
                cpuSeconds.Add(cpu);
            }
        }
        seconds.Sort();
        cpuSeconds.Sort();
        Console.WriteLine($"wall: median {seconds[seconds.Count / 2]:F3} s, best {seconds[0]:F3} s; cpu: median {cpuSeconds[cpuSeconds.Count / 2]:F3} s " +
            $"(on {Environment.ProcessorCount} idle cores ≈ {cpuSeconds[cpuSeconds.Count / 2] / Environment.ProcessorCount:F3} s wall) over {runs} runs");
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
