using System.Diagnostics;
using System.Globalization;
using Portal.Scenarios;

// Portal.Scenarios: proves Portal holds under load, faults and abuse (see bench/README.md, "Scenario runner").
// Starts its own PostgreSQL, Redis and Portal processes on loopback, and exits 1 if any expectation failed.
ScenarioOptions options;
try
{
    options = ScenarioOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine("error: " + ex.Message);
    Console.Error.WriteLine(ScenarioOptions.Usage);
    return 2;
}
if (options.Help)
{
    Console.WriteLine(ScenarioOptions.Usage);
    return 0;
}
return await Scenario.RunAsync(options, Console.Out);

namespace Portal.Scenarios
{
    public sealed record ScenarioOptions
    {
        public const string Usage = """
            usage: Portal.Scenarios --portal-dll PATH/Portal.dll [--short] [--duration SECONDS] [--rate ORDERS_PER_S]
                                    [--strategies N] [--fault-rate ORDERS_PER_S] [--halts N] [--fuzz-cases N] [--seed N] [--skip PHASES | --only PHASES]
              --short        seconds, not minutes: 5 s of load, 10 halts, 2,500 generated cases per API (what ./test runs)
              --duration     sustained load, seconds (default 60)
              --rate         target orders/s over both instances for the sustained load (default 1000)
              --fault-rate   background orders/s while faults are injected (default: rate / 5, at most 500)
              --halts        strategy halts for the halt-latency figure (default 100)
              --fuzz-cases   generated cases per API: order requests, then tick batches (default 500,000 each)
              --seed         seed of the load mix and of the generated cases (default 1)
              --skip         comma list of phases to leave out: ticks,load,joint,faults,halts,broker,abuse,fuzz
              --only         comma list of the phases to run, e.g. --only halts (the halt latency under --fault-rate load)
            """;

        public bool Help { get; private init; }
        public string PortalDll { get; private init; } = "";
        public bool Short { get; private init; }
        public TimeSpan Duration { get; private init; } = TimeSpan.FromSeconds(60);
        public double Rate { get; private init; } = 1000;
        public double FaultRate { get; private init; }
        public int Strategies { get; private init; } = 20;
        public int Halts { get; private init; } = 100;
        public int FuzzCases { get; private init; } = 500_000;
        public int Seed { get; private init; } = 1;
        public HashSet<string> Skip { get; private init; } = [];
        /// <summary>How long each fault is held while the background load runs.</summary>
        public TimeSpan FaultHold => Short ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(5);

        public static readonly string[] Phases = ["ticks", "load", "joint", "faults", "halts", "broker", "abuse", "fuzz"];

        private static HashSet<string> PhaseList(string value)
        {
            var phases = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
            return phases.Except(Phases).FirstOrDefault() is { } unknown ? throw new ArgumentException($"unknown phase '{unknown}'") : phases;
        }

        public static ScenarioOptions Parse(string[] args)
        {
            var o = new ScenarioOptions();
            for (var i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                double Number() => double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : throw new ArgumentException($"{args[i]} must be a positive number");
                o = args[i] switch
                {
                    "--help" or "-h" => o with { Help = true },
                    "--portal-dll" => o with { PortalDll = Path.GetFullPath(Value()) },
                    "--short" => o with { Short = true, Duration = TimeSpan.FromSeconds(5), Rate = 200, Halts = 10, FuzzCases = 2_500 },
                    "--duration" => o with { Duration = TimeSpan.FromSeconds(Number()) },
                    "--rate" => o with { Rate = Number() },
                    "--fault-rate" => o with { FaultRate = Number() },
                    "--strategies" => o with { Strategies = (int)Number() },
                    "--halts" => o with { Halts = (int)Number() },
                    "--fuzz-cases" => o with { FuzzCases = (int)Number() },
                    "--seed" => o with { Seed = (int)Number() },
                    "--skip" => o with { Skip = PhaseList(Value()) },
                    "--only" => o with { Skip = Phases.Except(PhaseList(Value())).ToHashSet() },
                    _ => throw new ArgumentException($"unknown argument {args[i]}"),
                };
            }
            if (!o.Help && !File.Exists(o.PortalDll)) throw new ArgumentException($"--portal-dll: '{o.PortalDll}' not found (publish Portal first; bench/scenarios.sh does)");
            return o.FaultRate > 0 ? o : o with { FaultRate = Math.Min(500, Math.Max(50, o.Rate / 5)) };
        }
    }

    public static class Scenario
    {
        /// <summary>Limits raised out of the load's way (as bench/load.sh): the mix is built so only the intended orders break one.</summary>
        private static readonly Dictionary<string, string> Limits = new()
        {
            ["MaxOrderValueUsd"] = "100000", ["MaxOrderQuantity"] = "10000", ["MaxPositionSizeUsd"] = "100000", ["MaxPositionPctPortfolio"] = "1",
            ["MaxTotalExposureUsd"] = "100000000", ["MaxLeverage"] = "4", ["MaxOpenPositions"] = "10000", ["MaxOrdersPerMinute"] = "100000000",
            ["MaxOrdersPerDay"] = "1000000000", ["MaxOrdersPerMinuteGlobal"] = "100000000", ["MaxOrdersPerDayGlobal"] = "1000000000",
            ["MaxDailyLossUsd"] = "100000000", ["MaxWeeklyLossUsd"] = "100000000", ["MaxDrawdownPct"] = "1", ["PriceCollarPct"] = "0.10",
        };

        public static Dictionary<string, string> PortalEnvironment(Cluster cluster, string database, string redisPrefix)
        {
            var environment = cluster.BaseEnvironment(database, redisPrefix);
            foreach (var (name, value) in Limits)
            {
                environment[$"Risk__Ceilings__{name}"] = value;
                environment[$"Risk__InitialLimits__{name}"] = value;
            }
            environment["Broker__Paper__StartingCash"] = "10000000";
            // The shared-market-data probe's own symbol, after the ten of appsettings.json, with no demo walk.
            environment["Market__Symbols__10__Symbol"] = SharedTicks.Symbol;
            environment["Market__Symbols__10__QuantityDecimals"] = "0";
            environment["Market__Symbols__10__PriceDecimals"] = "2";
            // One key sends the whole load: its own allowance out of the way too (at the configuration's ceiling).
            environment["ApiKeys__MaxOrdersPerMinutePerKey"] = "1000000000";
            environment["ApiKeys__MaxOrdersPerDayPerKey"] = "1000000000";
            environment["Demo__Enabled"] = "true";
            environment["Demo__StrategyEnabled"] = "false";
            // The generated-input run sends many far-off orders per strategy: its refusals must not halt them all.
            environment["TradingState__OrderValueBreachesToHalt"] = "1000";
            // Orders left unsent by the killed instance are resolved within seconds, so the reconciliation after the faults sees it.
            environment["Broker__Paper__UnsentOrderTimeout"] = "00:00:05";
            // Every fault here interrupts the demo feed of every symbol (an outage of Redis or PostgreSQL, a killed feeder,
            // a loaded machine's stall), each a gap anomaly: by the fourth within five minutes every symbol would turn
            // Suspect and refuse the probes, whose subject is the fault, not the data. Data quality is TickFuzz's subject.
            environment["MarketData__Rules__MaxAnomaliesInWindow"] = "1000";
            return environment;
        }

        /// <param name="strategies">What an orders key may trade: ids, or "*" for every id not reserved to Portal.</param>
        public static async Task<string> CreateApiKeyAsync(Cluster cluster, string database, string name, string scopes, string? strategies = null)
        {
            var output = await Cluster.RunAsync("dotnet", $"{cluster.PortalDll} create-api-key --name {name} --scopes {scopes} --owner none{(strategies is null ? "" : " --strategies " + strategies)}",
                environment: cluster.BaseEnvironment(database, "unused:"));
            var key = output.Trim().Split('\n')[^1].Trim();
            return key.StartsWith("pk_", StringComparison.Ordinal) ? key : throw new InvalidOperationException("create-api-key printed no key: " + output);
        }

        public static async Task<int> RunAsync(ScenarioOptions options, TextWriter output)
        {
            var report = new Report(output);
            var total = Stopwatch.StartNew();
            var runId = "r" + DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture);
            output.WriteLine($"Portal scenarios: {Environment.ProcessorCount} cores, load average {LoadAverage()}, {(options.Short ? "short mode" : "full mode")}, seed {options.Seed}");
            Cluster? cluster = null;
            try
            {
                cluster = await Cluster.StartAsync(options.PortalDll, output);
                await cluster.CreateDatabaseAsync("portal");
                var environment = PortalEnvironment(cluster, "portal", "portal:");
                var portals = new[] { cluster.AddPortal("portal-a", environment), cluster.AddPortal("portal-b", environment) };
                // Generous: on a starved machine a cold start (JIT, connections) has taken over two minutes.
                await Task.WhenAll(portals.Select(p => p.StartAsync(TimeSpan.FromSeconds(300))));
                output.WriteLine($"Portal instances: {string.Join(", ", portals.Select(p => $"{p.Name} {p.Url}"))} (logs in {cluster.Work})");
                var keys = new Keys(
                    await CreateApiKeyAsync(cluster, "portal", "scenario-all", "all", "*"),
                    await CreateApiKeyAsync(cluster, "portal", "scenario-observations", "observations"),
                    await CreateApiKeyAsync(cluster, "portal", "scenario-revoked", "all", "*"),
                    await CreateApiKeyAsync(cluster, "portal", "scenario-victim", "orders", Keys.VictimStrategy),
                    await CreateApiKeyAsync(cluster, "portal", "scenario-attacker", "orders", Keys.AttackerStrategy));
                await Cluster.RunAsync("dotnet", $"{cluster.PortalDll} revoke-api-key --name scenario-revoked", environment: cluster.BaseEnvironment("portal", "unused:"));
                var apis = portals.Select(p => new Api(p.Url, keys.All, TimeSpan.FromSeconds(15))).ToArray();
                var ledger = new Ledger();
                var owner = cluster.OwnerConnectionString("portal");
                await WarmUpAsync(apis, ledger, runId);

                if (!options.Skip.Contains("ticks")) await SharedTicks.MeasureAsync(report, apis[0], owner, options.Short ? 50 : 500);

                if (!options.Skip.Contains("load"))
                {
                    report.Section($"sustained load: {options.Duration.TotalSeconds:F0} s at {options.Rate:F0} orders/s, {options.Strategies} strategies, both instances");
                    var load = new LoadRun(apis, ledger, runId, options.Strategies, options.Seed);
                    await load.RunAsync(options.Rate, options.Duration);
                    load.Print(report, options.Rate);
                    report.Expect(!load.StatusCounts.Keys.Any(s => s >= 500 || s == 0), "no 5xx and no unanswered request under sustained load");
                    await Reconciliation.RunAsync(report, owner, runId, ledger.All);
                }

                if (!options.Skip.Contains("joint")) await JointLimits.PushAsync(report, apis, ledger, owner, runId);

                if (!options.Skip.Contains("faults") || !options.Skip.Contains("halts"))
                {
                    using var stopBackground = new CancellationTokenSource();
                    var background = new LoadRun(apis, ledger, runId + "-f", options.Strategies, options.Seed + 1);
                    var backgroundRun = background.RunAsync(options.FaultRate, TimeSpan.FromHours(1), stopBackground.Token);
                    var faults = new Faults(cluster, portals, apis, ledger, report, runId, options);
                    if (!options.Skip.Contains("faults"))
                    {
                        await faults.RedisKilledAsync();
                        await faults.FlushAllWhileHaltedAsync();
                        await faults.PostgresKilledAsync();
                        await faults.PortalKilledAsync();
                    }
                    if (!options.Skip.Contains("halts")) await faults.HaltLatencyAsync(options.Halts);
                    stopBackground.Cancel();
                    await backgroundRun;
                    report.Section($"background load during the faults ({options.FaultRate:F0} orders/s)");
                    background.Print(report, options.FaultRate);
                    var pending = await Reconciliation.WaitForNoPendingAsync(owner, runId, TimeSpan.FromSeconds(30));
                    report.Line($"orders the killed instance left pending_submit were resolved after {Report.Ms(pending)}");
                    await Reconciliation.RunAsync(report, owner, runId, ledger.All);
                }

                var abuse = new Abuse(report, portals[0].Url, keys, runId, owner);
                if (!options.Skip.Contains("abuse"))
                {
                    await abuse.CredentialsAsync();
                    await abuse.HostileBodiesAsync();
                    await abuse.ForgedRedisAsync(cluster, "portal:", apis);
                    await abuse.StrategyIdentityAsync();
                }
                if (!options.Skip.Contains("fuzz"))
                {
                    await abuse.GeneratedInputAsync(apis, options.FuzzCases, options.Seed, concurrency: 64);
                    await abuse.GeneratedTicksAsync(apis, options.FuzzCases, options.Seed, concurrency: 64);
                }

                await JointLimits.CheckAsync(report, owner);

                report.Section("audit chain");
                using (var verify = await apis[1].GetJsonAsync("api/audit/verify?mode=full", HttpMethod.Post))
                {
                    var root = verify.RootElement;
                    report.Expect(root.GetProperty("ok").GetBoolean(),
                        $"full verification through {portals[1].Name}{(options.Skip.Contains("faults") ? "" : " (restarted mid-run)")}: {root.GetProperty("verified").GetInt64()} events, {root.GetProperty("checkpoints").GetInt32()} checkpoints" +
                        (root.GetProperty("ok").GetBoolean() ? "" : $", first bad seq {root.GetProperty("firstBadSeq")}: {root.GetProperty("problem")}"));
                }

                if (!options.Skip.Contains("broker")) await BrokerStall.RunAsync(cluster, report, runId, options.FaultHold);
                foreach (var api in apis) api.Dispose();
            }
            catch (Exception ex)
            {
                report.Expect(false, $"the run itself failed: {ex.GetType().Name}: {ex.Message}");
                output.WriteLine(ex.StackTrace);
            }
            finally
            {
                if (cluster is not null) await cluster.DisposeAsync();
            }

            report.Section("result");
            output.WriteLine($"   {total.Elapsed.TotalMinutes:F1} min, load average now {LoadAverage()}");
            output.WriteLine(report.Failures.Count == 0 ? "   ALL EXPECTATIONS MET" : $"   {report.Failures.Count} FAILED:\n     " + string.Join("\n     ", report.Failures));
            if (report.Failures.Count == 0 && cluster is not null) TryDelete(cluster.Work);
            return report.Failures.Count == 0 ? 0 : 1;
        }

        /// <summary>Orders are refused until prices arrive and the risk view is loaded; wait for one acceptance on each instance.</summary>
        private static async Task WarmUpAsync(Api[] apis, Ledger ledger, string runId)
        {
            for (var i = 0; i < apis.Length; i++)
            {
                var watch = Stopwatch.StartNew();
                while ((await ledger.ProbeAsync(apis[i], i, runId, $"{runId}-warmup")).Status != 201)
                {
                    if (watch.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException($"instance {i} accepted no order within 60 s");
                    await Task.Delay(200);
                }
            }
        }

        private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

        private static void TryDelete(string directory)
        {
            try { Directory.Delete(directory, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }
}
