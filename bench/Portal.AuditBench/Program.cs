using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Domain.Audit;
using Portal.Features.Audit;
using Portal.Infrastructure.Postgres;

// The audit trail's throughput on a real PostgreSQL (bench/audit.sh sets one up):
//   append  SECONDS WRITERS INFLIGHT  sustained appends through a GroupCommitter, as Portal makes them, measured
//                                     after a warm-up of WarmUpSeconds
//   fill    COUNT                     bulk-append COUNT events (setup for verify/export)
//   verify columns|links              full verification, twice (cold, then warm): everything, or the chain only (hashes, links)
//   copy columns|links                the yardstick for verify: a raw binary COPY of the same columns of the same rows, read
//                                     and dropped, twice (cold, then warm)
//   export  FILE                      JSONL export of the whole chain to FILE, constant memory
// Connection string: PORTAL_BENCH_PG. Results are printed as one "name value unit" line each.
var connectionString = Environment.GetEnvironmentVariable("PORTAL_BENCH_PG") ?? throw new InvalidOperationException("Set PORTAL_BENCH_PG.");
await using var dataSource = new NpgsqlDataSourceBuilder(connectionString).Build();
var mode = args.ElementAtOrDefault(0);
int Arg(int i, int fallback) => args.Length > i ? int.Parse(args[i], CultureInfo.InvariantCulture) : fallback;

switch (mode)
{
    case "append": await AppendAsync(Arg(1, 20), Arg(2, 8), Arg(3, 64)); break;
    case "fill": await FillAsync(Arg(1, 1_000_000)); break;
    case "verify": await VerifyAsync(args.ElementAtOrDefault(1) != "links"); break;
    case "copy": await CopyAsync(args.ElementAtOrDefault(1) != "links"); break;
    case "export": await ExportAsync(args.ElementAtOrDefault(1) ?? "/dev/null"); break;
    default: Console.Error.WriteLine("usage: append SECONDS WRITERS INFLIGHT | fill COUNT | verify columns|links | copy columns|links | export FILE"); return 2;
}
return 0;

// Wall-clock rates depend on what else the machine runs; CPU time shows this code's own cost. Both are also given
// for the steady state, after JIT compilation and tiering, which cost a short run as much as the work itself.
static double CpuSeconds()
{
    using var self = Process.GetCurrentProcess();
    return self.TotalProcessorTime.TotalSeconds;
}

static AuditEventDraft Draft(long n) => AuditEventDraft.Create(DateTimeOffset.UtcNow, "bench:writer", n % 2 == 0 ? "order.accepted" : "order.rejected",
    "order:bench-" + n.ToString(CultureInfo.InvariantCulture),
    new { clientOrderId = "bench-" + n, strategyId = "s1", symbol = "AAPL", side = "buy", quantity = "3", referencePrice = "228.51", reason = (string?)null });

// Writers each keep INFLIGHT appends outstanding, as concurrent requests would; every append is its own
// PgWork, so batching is the group committer's doing.
async Task AppendAsync(int seconds, int writers, int inflight)
{
    const int WarmUpSeconds = 5;
    var committer = new GroupCommitter(dataSource, Options.Create(new GroupCommitOptions()), NullLogger<GroupCommitter>.Instance);
    await committer.StartAsync(CancellationToken.None);
    long appended = 0;
    var clock = Stopwatch.StartNew();
    var measuring = Task.Run(async () =>
    {
        await Task.Delay(TimeSpan.FromSeconds(WarmUpSeconds));
        return (Events: Interlocked.Read(ref appended), Cpu: CpuSeconds(), Seconds: clock.Elapsed.TotalSeconds);
    });
    await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
    {
        var pending = new Queue<Task>();
        for (long n = 0; clock.Elapsed.TotalSeconds < WarmUpSeconds + seconds; n++)
        {
            pending.Enqueue(committer.CommitAsync(new PgWork { AuditEvents = [Draft((w * 1_000_000_000L) + n)] }));
            if (pending.Count >= inflight)
            {
                await pending.Dequeue();
                Interlocked.Increment(ref appended);
            }
        }
        while (pending.Count > 0)
        {
            await pending.Dequeue();
            Interlocked.Increment(ref appended);
        }
    })));
    var (end, cpu) = (clock.Elapsed.TotalSeconds, CpuSeconds());
    var start = await measuring;
    await committer.StopAsync(CancellationToken.None);
    var events = appended - start.Events;
    Console.WriteLine($"append_events {events} events in {end - start.Seconds:F1} s after a {WarmUpSeconds} s warm-up");
    Console.WriteLine($"append_rate {events / (end - start.Seconds):F0} events/s");
    Console.WriteLine($"append_cpu {cpu - start.Cpu:F1} s of this process's CPU, {(cpu - start.Cpu) * 1e6 / events:F1} us per event");
}

async Task FillAsync(int count)
{
    var watch = Stopwatch.StartNew();
    for (var done = 0; done < count;)
    {
        var batch = Math.Min(5_000, count - done);
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await AuditChainWriter.AppendAsync(connection, transaction, Enumerable.Range(done, batch).Select(i => Draft(i)).ToList(), CancellationToken.None);
        await transaction.CommitAsync();
        done += batch;
    }
    Console.WriteLine($"fill_rate {count / watch.Elapsed.TotalSeconds:F0} events/s");
}

(AuditChainStore Store, AuditKeys Keys) Store()
{
    using var signer = CheckpointSigner.Generate();
    var options = Options.Create(new AuditOptions { SigningKeyPem = signer.ExportPrivateKeyPem(), CheckpointFile = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}.jsonl") });
    var keys = new AuditKeys(options);
    return (new AuditChainStore(dataSource, keys, new AuditCheckpointFile(options, NullLogger<AuditCheckpointFile>.Instance)), keys);
}

// Two full runs in one process: the first ("cold") includes JIT compilation and tiering, the second ("warm") is what a
// long-running Portal, which verifies every checkpoint, spends.
async Task VerifyAsync(bool compareColumns)
{
    var (store, keys) = Store();
    using (keys)
    {
        var name = compareColumns ? "verify_with_columns" : "verify_links_only";
        foreach (var run in new[] { "cold", "warm" })
        {
            var (watch, cpuBefore) = (Stopwatch.StartNew(), CpuSeconds());
            var (connection, transaction) = await store.OpenSnapshotAsync(CancellationToken.None);
            await using (connection)
            await using (transaction)
            {
                var head = await AuditChainStore.ReadHeadAsync(connection, transaction, CancellationToken.None);
                var check = await store.VerifyRangeAsync(connection, transaction, null, [], head, CancellationToken.None, compareColumns);
                if (check.Problem is not null) throw new InvalidOperationException(check.Problem);
                var cpu = CpuSeconds() - cpuBefore;
                Console.WriteLine($"{name}_{run} {check.Verified / watch.Elapsed.TotalSeconds:F0} events/s ({check.Verified} events), " +
                    $"{cpu:F1} s of this process's CPU (PostgreSQL's not included), {cpu * 1e6 / check.Verified:F2} us per event");
            }
        }
    }
}

// What reading the rows costs before anything is checked: the columns verify reads, as PostgreSQL's binary COPY sends
// them, in one statement, into a buffer that is thrown away.
async Task CopyAsync(bool withColumns)
{
    var columns = withColumns ? "seq, prev_hash, hash, canonical, time, actor, type, subject, payload::text" : "seq, prev_hash, hash, canonical";
    var name = withColumns ? "copy_with_columns" : "copy_links_only";
    var buffer = new byte[1 << 16];
    foreach (var run in new[] { "cold", "warm" })
    {
        var (watch, cpuBefore) = (Stopwatch.StartNew(), CpuSeconds());
        await using var connection = await dataSource.OpenConnectionAsync();
        long events;
        await using (var count = new NpgsqlCommand("select seq from audit_head", connection))
            events = (long)(await count.ExecuteScalarAsync())!;
        long bytes = 0;
        await using (var copy = await connection.BeginRawBinaryCopyAsync($"copy (select {columns} from audit_events order by seq) to stdout (format binary)"))
            for (int read; (read = await copy.ReadAsync(buffer, CancellationToken.None)) > 0;) bytes += read;
        var cpu = CpuSeconds() - cpuBefore;
        Console.WriteLine($"{name}_{run} {events / watch.Elapsed.TotalSeconds:F0} events/s ({events} events, {bytes / (1024 * 1024)} MiB), " +
            $"{cpu:F1} s of this process's CPU (PostgreSQL's not included), {cpu * 1e6 / events:F2} us per event");
    }
}

async Task ExportAsync(string path)
{
    var (store, keys) = Store();
    using (keys)
    {
        // The JSONL export needs neither proofs nor checkpoints; they are here because the export also serves filtered, proven exports.
        var options = Options.Create(new AuditOptions { SigningKeyPem = keys.Signer.ExportPrivateKeyPem(), CheckpointFile = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}.jsonl") });
        var checkpointer = new AuditCheckpointer(store, keys, new AuditCheckpointFile(options, NullLogger<AuditCheckpointFile>.Instance), options, TimeProvider.System, NullLogger<AuditCheckpointer>.Instance);
        var export = new AuditExport(store, keys, new AuditProofs(store, keys), checkpointer, options);
        var watch = Stopwatch.StartNew();
        var (from, to) = await export.ResolveRangeAsync(new AuditExportQuery(AuditExportFormatKind.Jsonl, null, null, null, null, [], null), CancellationToken.None);
        await using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            await export.WriteJsonlAsync(file, from, to, CancellationToken.None);
        var seconds = watch.Elapsed.TotalSeconds;
        using var self = Process.GetCurrentProcess();
        Console.WriteLine($"export_events {to - from + 1} events");
        Console.WriteLine($"export_seconds {seconds:F1} s");
        Console.WriteLine($"export_cpu {CpuSeconds():F1} s of this process's CPU (PostgreSQL's not included)");
        Console.WriteLine($"export_peak_working_set {self.PeakWorkingSet64 / (1024 * 1024)} MiB");
        Console.WriteLine($"export_gc_heap_after {GC.GetTotalMemory(false) / (1024 * 1024)} MiB");
    }
}
