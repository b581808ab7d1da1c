using System.Diagnostics;
using Portal.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Portal.Tests.Bench;

/// <summary>
/// The scenario runner's short mode (bench/Portal.Scenarios --short): its own PostgreSQL, Redis and Portal processes,
/// really killed and restarted, a few seconds of load, every fault, the abuse checks and 2,500 generated cases per API
/// (order requests and tick batches), buys on both instances at once that fit the position limit alone but not together, and
/// the joint position limit replayed from every fill in Postgres.
/// The runner asserts each expectation itself and exits 1 if any failed; its report is the failure message.
/// It runs alone, after the other tests: beside them (load average 12 on two cores in CI) its timings measured the
/// machine instead of Portal, and a broker or feed starved for five seconds is, rightly, a safe-mode refusal.
/// </summary>
[Collection(Name)]
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ScenarioRunnerTests(ITestOutputHelper output)
{
    private const string Name = "Scenario runner, alone";

    [Fact]
    public async Task Short_scenario_run_meets_every_expectation()
    {
        // Same configuration as this test assembly: bin/<Configuration>/net10.0/ (the base directory ends with a separator).
        var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        var root = TestServices.RepositoryRoot;
        var runner = Path.Combine(root, "bench", "Portal.Scenarios", "bin", configuration, "net10.0", "Portal.Scenarios.dll");
        var portal = Path.Combine(root, "Portal", "bin", configuration, "net10.0", "Portal.dll");

        var info = new ProcessStartInfo("dotnet", $"{runner} --short --portal-dll {portal}")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(15));
        await process.WaitForExitAsync(timeout.Token);
        var report = await stdout + await stderr;
        output.WriteLine(report);

        Assert.True(process.ExitCode == 0, report);
        Assert.Contains("ALL EXPECTATIONS MET", report, StringComparison.Ordinal);
    }
}
