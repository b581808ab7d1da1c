using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Domain.Broker;
using Portal.Domain.MarketData;
using Portal.Features.Market;
using Portal.Features.MarketData;
using Prometheus;

namespace Portal.Infrastructure.Alpaca;

/// <summary>
/// Alpaca's market-data WebSocket (<c>v2/iex</c> or <c>v2/sip</c>): authenticate, subscribe to trades and quotes of the
/// configured symbols, and feed every message through the one tick-ingest path (source <c>alpaca</c>), which validates
/// it and shares it with the other instances. Alpaca allows one connection per account, so one instance streams for the
/// whole deployment: the holder of a PostgreSQL advisory lock. Its session is checked every second while it streams;
/// when the holder dies its session ends, the lock frees, and another instance connects within
/// <see cref="AlpacaOptions.MarketDataLeaseRetry"/>. Reconnects back off from <see cref="AlpacaOptions.StreamReconnectDelay"/>
/// to 30 s; Alpaca's errors (402 auth failed, 406 connection limit, 407 slow client, ...) are logged with their code and
/// counted. While nothing streams, silence is judged on the shared feed as always (safe mode <c>market-data-silent</c>).
/// </summary>
public sealed class AlpacaMarketDataStream(
    AlpacaClient client, AlpacaCredentials credentials, IOptions<AlpacaOptions> options, IOptions<MarketOptions> market, MarketDataIngest ingest, NpgsqlDataSource db,
    TimeProvider clock, ILogger<AlpacaMarketDataStream> logger) : BackgroundService
{
    public const string Source = "alpaca";
    private const long StreamLockKey = 0x504F5254414C_04; // "PORTAL" + 4
    private static readonly TimeSpan MaxReconnectDelay = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan HealthyConnection = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan LeaseCheck = TimeSpan.FromSeconds(1);
    private const int MaxMessageBytes = 1 << 20;

    private static readonly Gauge Holding = Metrics.CreateGauge("portal_alpaca_market_data_stream_holder",
        "1 on the instance that holds the deployment's one Alpaca market-data connection.");
    private static readonly Counter Errors = Metrics.CreateCounter("portal_alpaca_market_data_stream_errors_total",
        "Alpaca market-data stream failures, by Alpaca's error code (or network).", "code");

    /// <summary>How many failures with this code (Alpaca's, or <c>network</c>, <c>closed</c>, ...) this process has counted.</summary>
    public static double ErrorCount(string code) => Errors.WithLabels(code).Value;

    /// <summary>True while this instance holds the lease and is subscribed.</summary>
    public bool Streaming { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.MarketDataEnabled) return;
        await SeedFromLatestBarsAsync(stoppingToken);
        var delay = options.Value.StreamReconnectDelay;
        while (!stoppingToken.IsCancellationRequested)
        {
            var connected = Stopwatch.StartNew();
            try
            {
                await using var lease = await db.OpenConnectionAsync(stoppingToken);
                if (await TryLockAsync(lease, stoppingToken))
                {
                    Holding.Set(1);
                    try
                    {
                        connected.Restart();
                        await StreamWhileHoldingAsync(lease, stoppingToken);
                    }
                    finally
                    {
                        Streaming = false;
                        Holding.Set(0);
                        await UnlockAsync(lease);
                    }
                }
                else
                {
                    await Task.Delay(options.Value.MarketDataLeaseRetry, clock, stoppingToken);
                    continue;
                }
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Errors.WithLabels(ex is AlpacaStreamException error ? error.Code : "network").Inc();
                logger.LogWarning("Alpaca market-data stream failed ({Error}: {Message}); reconnecting", ex.GetType().Name, ex.Message);
            }
            if (connected.Elapsed >= HealthyConnection) delay = options.Value.StreamReconnectDelay;
            try
            {
                await Task.Delay(delay * (0.8 + 0.4 * Random.Shared.NextDouble()), clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            delay = delay * 2 < MaxReconnectDelay ? delay * 2 : MaxReconnectDelay;
        }
    }

    /// <summary>
    /// Every instance, once at start-up: the latest bar's close of each symbol as its reference price until the first
    /// tick (<see cref="MarketDataIngest.SeedReferencePrice"/>). A failure is logged and counted, never fatal: without
    /// it a symbol only waits for its first tick, as before.
    /// </summary>
    private async Task SeedFromLatestBarsAsync(CancellationToken ct)
    {
        var symbols = market.Value.Symbols.Select(s => s.Symbol).ToArray();
        try
        {
            var bars = await client.GetLatestBarsAsync(options.Value.MarketDataRestUri, symbols, options.Value.MarketDataFeed, ct);
            var seeded = bars.Count(bar => ingest.SeedReferencePrice(bar.Key, bar.Value.Close, bar.Value.Time));
            logger.LogInformation("Reference prices from Alpaca's latest bars: {Seeded} of {Symbols} symbols ({Bars} bars read)", seeded, symbols.Length, bars.Count);
        }
        catch (BrokerException ex) when (!ct.IsCancellationRequested)
        {
            Errors.WithLabels("latest_bars").Inc();
            logger.LogWarning("Alpaca's latest bars could not be read ({Message}); symbols wait for their first tick", ex.Message);
        }
    }

    private static async Task<bool> TryLockAsync(NpgsqlConnection lease, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"select pg_try_advisory_lock({StreamLockKey})", lease);
        return (bool)(await command.ExecuteScalarAsync(ct))!;
    }

    private static async Task UnlockAsync(NpgsqlConnection lease)
    {
        // The pool resets a returned session only when it is next used: until then the lock would stay held.
        if (lease.State != System.Data.ConnectionState.Open) return;
        try
        {
            await using var command = new NpgsqlCommand($"select pg_advisory_unlock({StreamLockKey})", lease);
            await command.ExecuteScalarAsync(CancellationToken.None);
        }
        catch (NpgsqlException)
        {
            // The session is gone, and the lock with it.
        }
    }

    /// <summary>Streams until the stream ends or the lease's session stops answering (then another instance may hold it).</summary>
    private async Task StreamWhileHoldingAsync(NpgsqlConnection lease, CancellationToken stoppingToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var watch = WatchLeaseAsync(lease, stop);
        try
        {
            await StreamAsync(stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
        {
            throw new AlpacaStreamException("lease_lost", "the PostgreSQL session holding the stream's lease stopped answering");
        }
        finally
        {
            await stop.CancelAsync();
            await watch;
        }
    }

    private async Task WatchLeaseAsync(NpgsqlConnection lease, CancellationTokenSource stop)
    {
        try
        {
            await using var alive = new NpgsqlCommand("select 1", lease);
            using var timer = new PeriodicTimer(LeaseCheck, clock);
            while (await timer.WaitForNextTickAsync(stop.Token))
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                timeout.CancelAfter(LeaseCheck * 2);
                await alive.ExecuteScalarAsync(timeout.Token);
            }
        }
        catch (Exception) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            logger.LogWarning("The Alpaca market-data stream's lease session failed ({Error}); disconnecting", ex.Message);
            await stop.CancelAsync();
        }
    }

    private async Task StreamAsync(CancellationToken ct)
    {
        using var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(15);
        socket.Options.KeepAliveTimeout = TimeSpan.FromSeconds(15);
        var symbols = market.Value.Symbols.Select(s => s.Symbol).ToArray();
        using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            handshake.CancelAfter(HandshakeTimeout);
            await socket.ConnectAsync(options.Value.MarketDataStreamUri, handshake.Token);
            await ExpectAsync(socket, "success", "connected", handshake.Token);
            await SendAsync(socket, new { action = "auth", key = credentials.KeyId, secret = credentials.SecretKey }, handshake.Token);
            await ExpectAsync(socket, "success", "authenticated", handshake.Token);
            await SendAsync(socket, new { action = "subscribe", trades = symbols, quotes = symbols }, handshake.Token);
            await ExpectAsync(socket, "subscription", null, handshake.Token);
        }
        Streaming = true;
        logger.LogInformation("Streaming Alpaca market data ({Feed}) for {Symbols}", options.Value.MarketDataFeed, string.Join(", ", symbols));
        while (await ReceiveAsync(socket, ct) is { } message)
        {
            List<Tick> ticks;
            try
            {
                ticks = Parse(message);
            }
            catch (JsonException ex)
            {
                Errors.WithLabels("malformed").Inc();
                logger.LogWarning("Unreadable Alpaca market-data message skipped ({Error})", ex.Message);
                continue;
            }
            if (ticks.Count > 0) ingest.Ingest(ticks, Source);
        }
        throw new AlpacaStreamException("closed", "Alpaca closed the market-data stream");
    }

    /// <summary>Trades and quotes as ticks (a quote at its mid); an error message ends the connection with its code.</summary>
    public static List<Tick> Parse(byte[] message)
    {
        var ticks = new List<Tick>();
        using var json = JsonDocument.Parse(message);
        if (json.RootElement.ValueKind != JsonValueKind.Array) return ticks;
        foreach (var item in json.RootElement.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("T", out var type)) continue;
            switch (type.GetString())
            {
                case "error":
                    throw ErrorOf(item);
                case "t" when TryRead(item, out var symbol, out var time) && item.TryGetProperty("p", out var p) && p.TryGetDecimal(out var price):
                    ticks.Add(new Tick(symbol, price, null, null, item.TryGetProperty("s", out var s) && s.TryGetDecimal(out var size) ? size : null, time));
                    break;
                case "q" when TryRead(item, out var symbol, out var time) && item.TryGetProperty("bp", out var bp) && bp.TryGetDecimal(out var bid)
                                                                          && item.TryGetProperty("ap", out var ap) && ap.TryGetDecimal(out var ask)
                                                                          && bid > 0 && ask >= bid:
                    ticks.Add(new Tick(symbol, Math.Round((bid + ask) / 2, 4), bid, ask, null, time));
                    break;
            }
        }
        return ticks;
    }

    private static bool TryRead(JsonElement item, out string symbol, out DateTimeOffset time)
    {
        symbol = item.TryGetProperty("S", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : "";
        time = default;
        // System.Text.Json reads RFC 3339 with Alpaca's nine fractional digits (keeping seven), culture-free.
        return symbol.Length > 0 && item.TryGetProperty("t", out var t) && t.ValueKind == JsonValueKind.String && t.TryGetDateTimeOffset(out time);
    }

    private static AlpacaStreamException ErrorOf(JsonElement item)
    {
        var code = item.TryGetProperty("code", out var c) ? c.ToString() : "unknown";
        var text = item.TryGetProperty("msg", out var m) ? m.GetString() : null;
        return new AlpacaStreamException(code, $"Alpaca market-data error {code}: {text}");
    }

    /// <summary>Waits for a message of type <paramref name="type"/> (with <paramref name="msg"/>, when given); an error message fails the handshake.</summary>
    private static async Task ExpectAsync(ClientWebSocket socket, string type, string? msg, CancellationToken ct)
    {
        while (await ReceiveAsync(socket, ct) is { } message)
        {
            using var json = JsonDocument.Parse(message);
            if (json.RootElement.ValueKind != JsonValueKind.Array) continue;
            foreach (var item in json.RootElement.EnumerateArray())
            {
                var itemType = item.TryGetProperty("T", out var t) ? t.GetString() : null;
                if (itemType == "error") throw ErrorOf(item);
                if (itemType == type && (msg is null || (item.TryGetProperty("msg", out var m) && m.GetString() == msg))) return;
            }
        }
        throw new AlpacaStreamException("closed", "Alpaca closed the market-data stream during the handshake");
    }

    private static async Task SendAsync(ClientWebSocket socket, object message, CancellationToken ct) =>
        await socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(message), WebSocketMessageType.Text, endOfMessage: true, ct);

    private static async Task<byte[]?> ReceiveAsync(ClientWebSocket socket, CancellationToken ct)
    {
        var buffer = new ArrayBufferWriter<byte>();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.GetMemory(4096), ct);
            if (result.MessageType == WebSocketMessageType.Close) return null;
            buffer.Advance(result.Count);
            if (buffer.WrittenCount > MaxMessageBytes) throw new AlpacaStreamException("too_large", $"An Alpaca market-data message exceeded {MaxMessageBytes} bytes");
            if (result.EndOfMessage) return buffer.WrittenMemory.ToArray();
        }
    }
}

/// <summary>A market-data stream failure with Alpaca's code (402 auth failed, 406 connection limit, 407 slow client, ...).</summary>
public sealed class AlpacaStreamException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}
