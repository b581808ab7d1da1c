using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Npgsql;

// Portal.Load: drives POST /api/orders on loopback with N concurrent clients and prints
// throughput, latency percentiles, status codes, decision reasons and a reconciliation against
// Postgres. See bench/README.md.
return await LoadTool.MainAsync(args);

internal static class LoadTool
{
    public static async Task<int> MainAsync(string[] args)
    {
        LoadOptions options;
        try
        {
            options = LoadOptions.Parse(args);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine("error: " + ex.Message);
            Console.Error.WriteLine(LoadOptions.Usage);
            return 2;
        }
        if (options.Help)
        {
            Console.WriteLine(LoadOptions.Usage);
            return 0;
        }

        using var http = CreateClient(options);
        if (options.TickBatch > 0) return await new TickLoad(http, options).RunAsync();
        if (options.WaitReadySeconds > 0 && !await WaitReadyAsync(http, options))
            return 1;

        var run = new LoadRun(http, options);
        var result = await run.ExecuteAsync();
        result.Print(Console.Out);

        if (options.PostgresConnection is null)
        {
            Console.WriteLine("reconciliation: skipped (no --pg connection string)");
            return result.Failed == 0 ? 0 : 1;
        }
        var reconciliation = await Reconciliation.CheckAsync(options.PostgresConnection, options.RunId, result, options.Clients);
        reconciliation.Print(Console.Out);
        return reconciliation.Ok ? 0 : 1;
    }

    private static HttpClient CreateClient(LoadOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            // One connection per client: no client ever waits for another's connection.
            MaxConnectionsPerServer = options.Clients,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        var http = new HttpClient(handler)
        {
            BaseAddress = new Uri(options.Url),
            Timeout = TimeSpan.FromSeconds(options.TimeoutSeconds),
            DefaultRequestVersion = HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
        return http;
    }

    /// <summary>Sends small valid orders until one is accepted (prices loaded, risk view ready), so the run does not measure start-up.</summary>
    private static async Task<bool> WaitReadyAsync(HttpClient http, LoadOptions options)
    {
        var deadline = Stopwatch.StartNew();
        string? last = null;
        for (var attempt = 1; deadline.Elapsed < TimeSpan.FromSeconds(options.WaitReadySeconds); attempt++)
        {
            var symbol = options.Symbols[attempt % options.Symbols.Length];
            // A buy then a sell of one share, so probes leave no position; "P" keeps them out of the run's id prefix.
            var side = attempt % 2 == 1 ? "buy" : "sell";
            var body = OrderBodies.Market($"{options.RunId}P-{attempt}", "load-probe", symbol, side, 1);
            try
            {
                using var response = await http.PostAsync("/api/orders", new ByteArrayContent(body) { Headers = { ContentType = OrderBodies.Json } });
                var text = await response.Content.ReadAsStringAsync();
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    // Close the probe position again.
                    if (side == "buy")
                        await http.PostAsync("/api/orders", new ByteArrayContent(OrderBodies.Market($"{options.RunId}P-{attempt}s", "load-probe", symbol, "sell", 1))
                            { Headers = { ContentType = OrderBodies.Json } });
                    Console.WriteLine($"ready after {deadline.Elapsed.TotalSeconds:F1} s ({attempt} probe orders)");
                    return true;
                }
                last = $"{(int)response.StatusCode}: {Truncate(text, 300)}";
                if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                {
                    Console.Error.WriteLine($"error: the API key was refused ({last})");
                    return false;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                last = ex.Message;
            }
            await Task.Delay(250);
        }
        Console.Error.WriteLine($"error: Portal at {options.Url} did not accept a probe order within {options.WaitReadySeconds} s; last answer: {last}");
        return false;
    }

    public static string Truncate(string text, int max) => text.Length <= max ? text : text[..max] + "...";
}

internal sealed class LoadOptions
{
    public const string Usage = """
        usage: Portal.Load --api-key KEY [--url http://127.0.0.1:5080] [--pg CONNSTRING]
                           [--clients 32] [--duration 30s | --count N] [--rate ORDERS_PER_S]
                           [--symbols AAPL,MSFT,...] [--reject-share 0.2] [--strategies 8]
                           [--warmup 3s] [--wait-ready 60] [--timeout 30] [--run-id ID] [--progress 5s] [--server-pid PID]
          --api-key      key with the 'orders' scope (or env PORTAL_API_KEY)
          --pg           Npgsql connection string with read access to orders and paper_orders; enables the reconciliation
          --clients      concurrent clients, each with its own connection, one request in flight each
          --duration     how long to send (30s, 2m, or seconds); --count sends that many orders instead
          --rate         target total orders/s, paced per client (open loop: latency counts from the scheduled send time)
          --reject-share share of orders built to break a limit (far limit price → PriceCollar, 20,000 shares → MaxOrderQuantity; not MaxOrderValue, whose repeats halt the strategy as a runaway)
          --warmup       excluded from throughput and latency (still reconciled)
          --wait-ready   seconds to wait, sending probe orders, until Portal accepts an order (0: don't wait)
          --server-pid   Portal's process id (same machine): progress lines add its CPU use (cores, CPU ms per order)
          --ticks BATCH  tick mode: post batches of BATCH ticks to /api/market-data/ticks instead of orders (key needs 'ticks');
                         at most one client per symbol; prints ticks/s and request latency (no reconciliation)
          --bad-tick-share  share of crossed quotes in tick mode (default 0.01)
        """;

    public string Url { get; private set; } = "http://127.0.0.1:5080";
    public string ApiKey { get; private set; } = Environment.GetEnvironmentVariable("PORTAL_API_KEY") ?? "";
    public string? PostgresConnection { get; private set; }
    public int Clients { get; private set; } = 32;
    public TimeSpan? Duration { get; private set; }
    public long? Count { get; private set; }
    public double? Rate { get; private set; }
    public string[] Symbols { get; private set; } = ["AAPL", "MSFT", "SPY", "QQQ", "NVDA", "AMZN", "GOOGL", "META", "JPM", "TSLA"];
    public double RejectShare { get; private set; } = 0.2;
    public int Strategies { get; private set; } = 8;
    public TimeSpan Warmup { get; private set; } = TimeSpan.FromSeconds(3);
    public int WaitReadySeconds { get; private set; } = 60;
    public int TimeoutSeconds { get; private set; } = 30;
    public TimeSpan Progress { get; private set; } = TimeSpan.FromSeconds(5);
    public string RunId { get; private set; } = "L" + Guid.NewGuid().ToString("N")[..10];
    public int? ServerPid { get; private set; }
    public bool Help { get; private set; }
    public int TickBatch { get; private set; }
    public double BadTickShare { get; private set; } = 0.01;

    public static LoadOptions Parse(string[] args)
    {
        var o = new LoadOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--url": o.Url = Value().TrimEnd('/'); break;
                case "--api-key": o.ApiKey = Value(); break;
                case "--pg": o.PostgresConnection = Value(); break;
                case "--clients": o.Clients = PositiveInt(Value(), "--clients"); break;
                case "--duration": o.Duration = Span(Value(), "--duration"); break;
                case "--count": o.Count = PositiveInt(Value(), "--count"); break;
                case "--rate": o.Rate = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--symbols": o.Symbols = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                case "--reject-share": o.RejectShare = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--strategies": o.Strategies = PositiveInt(Value(), "--strategies"); break;
                case "--warmup": o.Warmup = Span(Value(), "--warmup"); break;
                case "--wait-ready": o.WaitReadySeconds = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--timeout": o.TimeoutSeconds = PositiveInt(Value(), "--timeout"); break;
                case "--progress": o.Progress = Span(Value(), "--progress"); break;
                case "--run-id": o.RunId = Value(); break;
                case "--server-pid": o.ServerPid = PositiveInt(Value(), "--server-pid"); break;
                case "--ticks": o.TickBatch = PositiveInt(Value(), "--ticks"); break;
                case "--bad-tick-share": o.BadTickShare = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "-h" or "--help": o.Help = true; break;
                default: throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }
        if (o.Help) return o;
        if (o.ApiKey.Length == 0) throw new ArgumentException("--api-key (or PORTAL_API_KEY) is required");
        if (o.Duration is null && o.Count is null) o.Duration = TimeSpan.FromSeconds(30);
        if (o.Duration is not null && o.Count is not null) throw new ArgumentException("give --duration or --count, not both");
        if (o.Rate is <= 0) throw new ArgumentException("--rate must be positive");
        if (o.RejectShare is < 0 or > 1) throw new ArgumentException("--reject-share must be between 0 and 1");
        if (o.Symbols.Length == 0) throw new ArgumentException("--symbols lists no symbol");
        if (o.RunId.Length > 16 || !o.RunId.All(char.IsAsciiLetterOrDigit)) throw new ArgumentException("--run-id must be 1 to 16 letters or digits");
        return o;
    }

    private static int PositiveInt(string text, string name) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : throw new ArgumentException($"{name} must be a positive integer");

    /// <summary>"30s", "2m", "500ms" or plain seconds.</summary>
    private static TimeSpan Span(string text, string name)
    {
        static double Number(string s) => double.Parse(s, CultureInfo.InvariantCulture);
        try
        {
            if (text.EndsWith("ms", StringComparison.Ordinal)) return TimeSpan.FromMilliseconds(Number(text[..^2]));
            if (text.EndsWith('s')) return TimeSpan.FromSeconds(Number(text[..^1]));
            if (text.EndsWith('m')) return TimeSpan.FromMinutes(Number(text[..^1]));
            return TimeSpan.FromSeconds(Number(text));
        }
        catch (FormatException)
        {
            throw new ArgumentException($"{name}: '{text}' is not a duration (30s, 2m, 500ms)");
        }
    }
}

/// <summary>Request bodies built by hand (cheap: the load generator shares the machine's two cores with Portal).</summary>
internal static class OrderBodies
{
    public static readonly MediaTypeHeaderValue Json = new("application/json");

    public static byte[] Market(string clientOrderId, string strategyId, string symbol, string side, int quantity) => Encoding.UTF8.GetBytes(
        $$"""{"clientOrderId":"{{clientOrderId}}","strategyId":"{{strategyId}}","symbol":"{{symbol}}","side":"{{side}}","quantity":{{quantity.ToString(CultureInfo.InvariantCulture)}},"type":"market","timeInForce":"day"}""");

    public static byte[] Limit(string clientOrderId, string strategyId, string symbol, string side, int quantity, string limitPrice) => Encoding.UTF8.GetBytes(
        $$"""{"clientOrderId":"{{clientOrderId}}","strategyId":"{{strategyId}}","symbol":"{{symbol}}","side":"{{side}}","quantity":{{quantity.ToString(CultureInfo.InvariantCulture)}},"type":"limit","limitPrice":{{limitPrice}},"timeInForce":"day"}""");
}

/// <summary>What one request ended as, as far as the client can tell.</summary>
internal enum Outcome : byte
{
    Accepted = 1,   // a response carrying decision "accepted" (201, or 502 when the broker failed)
    Rejected = 2,   // a response carrying decision "rejected" (422, or 503 RiskStateUnavailable with a row)
    NoDecision = 3, // any other response (400, 401, 409, 503 without a decision, 500 ...): nothing should be persisted
    Failed = 4,     // no response (timeout, connection error): the server may or may not have decided
}

/// <summary>One client: a loop with one request in flight, its own statistics, merged at the end.</summary>
internal sealed class ClientState(int index)
{
    public int Index { get; } = index;
    public List<long> LatencyTicks { get; } = new(1 << 16);
    public List<Outcome> Outcomes { get; } = new(1 << 16);
    public Dictionary<int, long> StatusCodes { get; } = [];
    public Dictionary<string, long> Reasons { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, long> Errors { get; } = new(StringComparer.Ordinal);
    public long Measured;
    public string? FirstUnexpected;
}

internal sealed class LoadRun(HttpClient http, LoadOptions options)
{
    private static readonly Uri OrdersUri = new("/api/orders", UriKind.Relative);

    // Progress counters (shared; everything else is per client).
    private long _completed;
    private long _intervalLatencyTicks;
    private long _intervalMaxTicks;
    private long _issued;

    public async Task<LoadResult> ExecuteAsync()
    {
        var clients = Enumerable.Range(0, options.Clients).Select(i => new ClientState(i)).ToArray();
        var start = Stopwatch.GetTimestamp();
        var warmupEnd = start + (long)(options.Warmup.TotalSeconds * Stopwatch.Frequency);
        var stopAt = options.Duration is { } d ? start + (long)((d + options.Warmup).TotalSeconds * Stopwatch.Frequency) : long.MaxValue;
        using var stop = new CancellationTokenSource();
        Console.WriteLine($"run {options.RunId}: {options.Clients} clients, " +
            (options.Duration is { } dd ? $"{dd.TotalSeconds:0.#} s" : $"{options.Count} orders") + $" after {options.Warmup.TotalSeconds:0.#} s warm-up, " +
            (options.Rate is { } r ? $"target {r:0} orders/s, " : "closed loop (as fast as answered), ") +
            $"{options.Symbols.Length} symbols, {options.RejectShare:P0} limit-breaking, {options.Strategies} strategies");

        var progress = ReportProgressAsync(start, warmupEnd, stop.Token);
        var tasks = clients.Select(c => Task.Run(() => ClientLoopAsync(c, start, warmupEnd, stopAt))).ToArray();
        await Task.WhenAll(tasks);
        var end = Stopwatch.GetTimestamp();
        await stop.CancelAsync();
        await progress;
        return LoadResult.Merge(clients, Stopwatch.GetElapsedTime(Math.Min(warmupEnd, end), end), options);
    }

    private async Task ClientLoopAsync(ClientState client, long start, long warmupEnd, long stopAt)
    {
        var random = new Random(client.Index * 7919 + 17);
        var interval = options.Rate is { } rate ? (long)(Stopwatch.Frequency * options.Clients / rate) : 0;
        // Spread the clients' schedules over one interval so they do not send in lockstep.
        var next = start + (interval == 0 ? 0 : interval * client.Index / options.Clients);
        var pair = 0;         // valid orders come in buy/sell pairs of the same symbol and size, so positions stay near zero
        var pairOpen = false;
        for (var seq = 0; ; seq++)
        {
            if (options.Count is { } count && Interlocked.Increment(ref _issued) > count) break;
            var scheduled = Stopwatch.GetTimestamp();
            if (scheduled >= stopAt) break;
            if (interval > 0)
            {
                if (next > scheduled)
                {
                    var wait = Stopwatch.GetElapsedTime(scheduled, next);
                    if (wait > TimeSpan.FromMilliseconds(1)) await Task.Delay(wait);
                    else while (Stopwatch.GetTimestamp() < next) Thread.SpinWait(20);
                }
                scheduled = next;
                next += interval;
                if (scheduled >= stopAt) break;
            }

            var id = $"{options.RunId}-{client.Index}-{seq}";
            var strategy = $"load-{client.Index % options.Strategies}";
            byte[] body;
            if (random.NextDouble() < options.RejectShare)
            {
                var symbol = options.Symbols[random.Next(options.Symbols.Length)];
                body = random.Next(2) == 0
                    ? OrderBodies.Limit(id, strategy, symbol, random.Next(2) == 0 ? "buy" : "sell", 1, "1.00")   // ~99 % off any real price: PriceCollar
                    : OrderBodies.Market(id, strategy, symbol, "buy", 20000);                                    // MaxOrderQuantity
            }
            else
            {
                var symbol = options.Symbols[(client.Index + pair) % options.Symbols.Length];
                var quantity = 1 + pair % 5;
                var buyFirst = (client.Index + pair) % 2 == 0;
                var side = pairOpen ^ buyFirst ? "buy" : "sell";
                body = OrderBodies.Market(id, strategy, symbol, side, quantity);
                if (pairOpen) pair++;
                pairOpen = !pairOpen;
            }
            await SendAsync(client, body, scheduled, warmupEnd);
        }
    }

    private async Task SendAsync(ClientState client, byte[] body, long scheduled, long warmupEnd)
    {
        Outcome outcome;
        int status = 0;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, OrdersUri) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = OrderBodies.Json;
            using var response = await http.SendAsync(request);
            var bytes = await response.Content.ReadAsByteArrayAsync();
            status = (int)response.StatusCode;
            var (decision, reason) = ReadDecision(bytes);
            outcome = decision switch
            {
                "accepted" => Outcome.Accepted,
                "rejected" => Outcome.Rejected,
                _ => Outcome.NoDecision,
            };
            if (reason is not null || outcome == Outcome.Rejected)
                Increment(client.Reasons, reason ?? "(no reason)");
            if (outcome == Outcome.NoDecision || status >= 500)
                client.FirstUnexpected ??= $"{status}: {LoadTool.Truncate(Encoding.UTF8.GetString(bytes), 400)}";
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            outcome = Outcome.Failed;
            Increment(client.Errors, ex.GetType().Name + ": " + LoadTool.Truncate(ex.Message, 120));
        }
        var done = Stopwatch.GetTimestamp();
        client.Outcomes.Add(outcome);
        if (status != 0) client.StatusCodes[status] = client.StatusCodes.GetValueOrDefault(status) + 1;
        Interlocked.Increment(ref _completed);
        if (scheduled < warmupEnd) return;
        var ticks = done - scheduled;
        client.LatencyTicks.Add(ticks);
        client.Measured++;
        Interlocked.Add(ref _intervalLatencyTicks, ticks);
        long max;
        while (ticks > (max = Volatile.Read(ref _intervalMaxTicks)) && Interlocked.CompareExchange(ref _intervalMaxTicks, ticks, max) != max) { }
    }

    /// <summary>The top-level "decision" and "reason" of a JSON reply, if any.</summary>
    private static (string? Decision, string? Reason) ReadDecision(byte[] json)
    {
        if (json.Length == 0) return (null, null);
        string? decision = null, reason = null;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return (null, null);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isDecision = reader.ValueTextEquals("decision"u8);
                var isReason = !isDecision && reader.ValueTextEquals("reason"u8);
                reader.Read();
                if (isDecision && reader.TokenType == JsonTokenType.String) decision = reader.GetString();
                else if (isReason && reader.TokenType == JsonTokenType.String) reason = reader.GetString();
                else reader.Skip();
            }
        }
        catch (JsonException)
        {
        }
        return (decision, reason);
    }

    private static void Increment(Dictionary<string, long> counts, string key) => counts[key] = counts.GetValueOrDefault(key) + 1;

    private async Task ReportProgressAsync(long start, long warmupEnd, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(options.Progress);
        long lastCompleted = 0;
        var lastTime = start;
        var lastCpu = ProcessCpuSeconds(options.ServerPid);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                var now = Stopwatch.GetTimestamp();
                var completed = Interlocked.Read(ref _completed);
                var latency = Interlocked.Exchange(ref _intervalLatencyTicks, 0);
                var max = Interlocked.Exchange(ref _intervalMaxTicks, 0);
                var n = completed - lastCompleted;
                var seconds = Stopwatch.GetElapsedTime(lastTime, now).TotalSeconds;
                var phase = now < warmupEnd ? " (warm-up)" : "";
                var cpu = ProcessCpuSeconds(options.ServerPid);
                var server = cpu is { } c && lastCpu is { } lc
                    ? FormattableString.Invariant($"  Portal {(c - lc) / seconds:F2} cores {(n == 0 ? 0 : (c - lc) * 1000 / n):F2} ms CPU/order")
                    : "";
                Console.WriteLine(FormattableString.Invariant(
                    $"  t={Stopwatch.GetElapsedTime(start, now).TotalSeconds,5:F0}s {n / seconds,8:F0} orders/s  mean {(n == 0 ? 0 : latency * 1000.0 / Stopwatch.Frequency / n),7:F2} ms  max {max * 1000.0 / Stopwatch.Frequency,8:F1} ms  total {completed}{phase}{server}  load {LoadAverage()}"));
                lastCpu = cpu;
                lastCompleted = completed;
                lastTime = now;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>User + system CPU seconds of a process on this machine, from /proc (Linux); null when unknown.</summary>
    private static double? ProcessCpuSeconds(int? pid)
    {
        if (pid is null) return null;
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) / ClockTicksPerSecond;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>USER_HZ; 100 on every Linux this runs on.</summary>
    private const double ClockTicksPerSecond = 100;

    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }
}

internal sealed class LoadResult
{
    public required ClientState[] Clients { get; init; }
    public required long Measured { get; init; }
    public required TimeSpan MeasuredTime { get; init; }
    public required long[] SortedLatencyTicks { get; init; }
    public required SortedDictionary<int, long> StatusCodes { get; init; }
    public required SortedDictionary<string, long> Reasons { get; init; }
    public required SortedDictionary<string, long> Errors { get; init; }
    public required long Total { get; init; }
    public required long Accepted { get; init; }
    public required long Rejected { get; init; }
    public required long NoDecision { get; init; }
    public required long Failed { get; init; }
    public required string? FirstUnexpected { get; init; }

    public static LoadResult Merge(ClientState[] clients, TimeSpan measuredTime, LoadOptions options)
    {
        var latencies = clients.SelectMany(c => c.LatencyTicks).ToArray();
        Array.Sort(latencies);
        long Count(Outcome o) => clients.Sum(c => c.Outcomes.LongCount(x => x == o));
        SortedDictionary<TKey, long> Sum<TKey>(Func<ClientState, Dictionary<TKey, long>> pick) where TKey : notnull =>
            new(clients.SelectMany(pick).GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Sum(kv => kv.Value)));
        return new LoadResult
        {
            Clients = clients,
            Measured = clients.Sum(c => c.Measured),
            MeasuredTime = measuredTime,
            SortedLatencyTicks = latencies,
            StatusCodes = Sum(c => c.StatusCodes),
            Reasons = Sum(c => c.Reasons),
            Errors = Sum(c => c.Errors),
            Total = clients.Sum(c => (long)c.Outcomes.Count),
            Accepted = Count(Outcome.Accepted),
            Rejected = Count(Outcome.Rejected),
            NoDecision = Count(Outcome.NoDecision),
            Failed = Count(Outcome.Failed),
            FirstUnexpected = clients.Select(c => c.FirstUnexpected).FirstOrDefault(x => x is not null),
        };
    }

    private double Percentile(double p)
    {
        if (SortedLatencyTicks.Length == 0) return double.NaN;
        var rank = (int)Math.Ceiling(p / 100.0 * SortedLatencyTicks.Length) - 1;
        return SortedLatencyTicks[Math.Clamp(rank, 0, SortedLatencyTicks.Length - 1)] * 1000.0 / Stopwatch.Frequency;
    }

    public void Print(TextWriter o)
    {
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine();
        o.WriteLine(string.Create(inv, $"throughput: {Measured / MeasuredTime.TotalSeconds:F0} orders/s ({Measured} responses in {MeasuredTime.TotalSeconds:F1} s after warm-up)"));
        o.WriteLine(string.Create(inv, $"latency ms: p50 {Percentile(50):F2}  p90 {Percentile(90):F2}  p99 {Percentile(99):F2}  p99.9 {Percentile(99.9):F2}  max {Percentile(100):F2}"));
        o.WriteLine("status codes: " + string.Join("  ", StatusCodes.Select(kv => $"{kv.Key}: {kv.Value}")));
        o.WriteLine(string.Create(inv, $"decisions (whole run incl. warm-up): {Total} sent, {Accepted} accepted, {Rejected} rejected, {NoDecision} answered without a decision, {Failed} without an answer"));
        if (Reasons.Count > 0) o.WriteLine("reasons: " + string.Join("  ", Reasons.Select(kv => $"{kv.Key}: {kv.Value}")));
        foreach (var (error, n) in Errors) o.WriteLine($"client errors: {n} × {error}");
        if (FirstUnexpected is not null) o.WriteLine("first unexpected answer: " + FirstUnexpected);
        o.WriteLine("load average at end: " + LoadRun.LoadAverage() + $"  ({Environment.ProcessorCount} cores)");
    }
}

/// <summary>
/// Compares what the clients heard with what Postgres holds for this run's clientOrderIds:
/// every answered decision has exactly one row with that decision, every accepted order exactly one
/// paper broker order, and nothing else has a row except requests that got no answer.
/// </summary>
internal sealed class Reconciliation
{
    private readonly List<(bool Ok, string Line)> _lines = [];

    public bool Ok => _lines.All(l => l.Ok);

    public static async Task<Reconciliation> CheckAsync(string connectionString, string runId, LoadResult result, int clients)
    {
        var r = new Reconciliation();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var prefix = runId + "-";

        // What the database holds, keyed by (client, sequence) from the id "{runId}-{client}-{seq}".
        var rows = new Dictionary<(int, int), string>();
        await using (var command = new NpgsqlCommand("select client_order_id, decision from orders where left(client_order_id, $2) = $1", connection))
        {
            command.Parameters.AddWithValue(prefix);
            command.Parameters.AddWithValue(prefix.Length);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync()) rows[Key(reader.GetString(0), prefix)] = reader.GetString(1);
        }
        var brokerIds = new HashSet<(int, int)>();
        long brokerRows = 0;
        await using (var command = new NpgsqlCommand("select client_order_id from paper_orders where left(client_order_id, $2) = $1", connection))
        {
            command.Parameters.AddWithValue(prefix);
            command.Parameters.AddWithValue(prefix.Length);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                brokerRows++;
                brokerIds.Add(Key(reader.GetString(0), prefix));
            }
        }

        long decided = 0, missing = 0, mismatched = 0, acceptedWithoutBroker = 0, unanswered = 0, unansweredWithRow = 0, strayRows = 0, noDecisionWithRow = 0;
        var answered = new HashSet<(int, int)>();
        foreach (var client in result.Clients)
            for (var seq = 0; seq < client.Outcomes.Count; seq++)
            {
                var key = (client.Index, seq);
                answered.Add(key);
                var outcome = client.Outcomes[seq];
                var hasRow = rows.TryGetValue(key, out var decision);
                switch (outcome)
                {
                    case Outcome.Accepted or Outcome.Rejected:
                        decided++;
                        if (!hasRow) missing++;
                        else if (decision != (outcome == Outcome.Accepted ? "accepted" : "rejected")) mismatched++;
                        if (outcome == Outcome.Accepted && !brokerIds.Contains(key)) acceptedWithoutBroker++;
                        break;
                    case Outcome.NoDecision:
                        if (hasRow) noDecisionWithRow++;
                        break;
                    case Outcome.Failed:
                        unanswered++;
                        if (hasRow) unansweredWithRow++;
                        break;
                }
            }
        foreach (var key in rows.Keys) if (!answered.Contains(key)) strayRows++;
        var acceptedRows = rows.Values.LongCount(d => d == "accepted");
        var brokerForNonAccepted = brokerIds.LongCount(k => !rows.TryGetValue(k, out var d) || d != "accepted");

        r.Add(missing == 0 && mismatched == 0 && decided + unansweredWithRow == rows.Count && strayRows == 0,
            $"answered decisions = rows in orders: {decided} answered + {unansweredWithRow} unanswered-but-recorded vs {rows.Count} rows " +
            $"(missing {missing}, decision differs {mismatched}, rows for ids never sent {strayRows})");
        r.Add(noDecisionWithRow == 0, $"answers without a decision left no row: {noDecisionWithRow} rows for them");
        r.Add(acceptedWithoutBroker == 0 && brokerForNonAccepted == 0,
            $"accepted answers = paper broker orders: {result.Accepted} accepted answers, {acceptedRows} accepted rows, {brokerIds.Count} broker orders " +
            $"(accepted without broker order {acceptedWithoutBroker}, broker orders for non-accepted rows {brokerForNonAccepted})");
        r.Add(brokerRows == brokerIds.Count, $"no duplicate clientOrderId at the broker: {brokerRows} rows, {brokerIds.Count} distinct ids");
        if (unanswered > 0) r.Add(true, $"note: {unanswered} requests got no answer; {unansweredWithRow} of them were recorded anyway (allowed)");
        return r;
    }

    private static (int, int) Key(string clientOrderId, string prefix)
    {
        var rest = clientOrderId.AsSpan(prefix.Length);
        var dash = rest.IndexOf('-');
        return dash > 0 && int.TryParse(rest[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var client)
                        && int.TryParse(rest[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var seq)
            ? (client, seq)
            : (-1, -1);
    }

    private void Add(bool ok, string line) => _lines.Add((ok, line));

    public void Print(TextWriter o)
    {
        o.WriteLine("reconciliation against Postgres:");
        foreach (var (ok, line) in _lines) o.WriteLine($"  {(ok ? "OK  " : "FAIL")} {line}");
        o.WriteLine(Ok ? "reconciliation: OK" : "reconciliation: FAILED");
    }
}
