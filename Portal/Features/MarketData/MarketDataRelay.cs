using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Domain.MarketData;
using Portal.Features.Market;
using Prometheus;

namespace Portal.Features.MarketData;

/// <summary>One step of a symbol's history as validated on this instance: a tick (accepted or aberrant), or an operator's reset.</summary>
public readonly record struct RelayItem(Tick Tick, bool Reset);

/// <summary>
/// What this instance's ingest validated, in validation order, waiting for <see cref="MarketDataRelay"/> to send it to the
/// other instances. Bounded: when Postgres cannot keep up, the overflow is counted and dropped rather than slowing the ingest
/// (peers then hear less; if they hear nothing, their silence check puts them in safe mode).
/// </summary>
public sealed class TickRelayQueue(IOptions<MarketDataOptions> options)
{
    private readonly Channel<RelayItem> _channel = Channel.CreateBounded<RelayItem>(
        new BoundedChannelOptions(options.Value.RelayQueueCapacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    public ChannelReader<RelayItem> Reader => _channel.Reader;

    public void Enqueue(in Tick tick) => Write(new RelayItem(tick, Reset: false));

    public void EnqueueReset(string symbol) => Write(new RelayItem(new Tick(symbol, 0m, null, null, null, default), Reset: true));

    private void Write(RelayItem item)
    {
        // DropWrite reports success while discarding, so check the room first; a race only miscounts by one.
        if (_channel.Reader.Count >= options.Value.RelayQueueCapacity || !_channel.Writer.TryWrite(item))
            MarketDataRelay.Dropped.WithLabels("queue_full").Inc();
    }
}

/// <summary>
/// Shares market data between instances through PostgreSQL <c>LISTEN</c>/<c>NOTIFY</c> (docs/market-data.md, "Across
/// instances"): every tick this instance validated is sent, batched, on channel <see cref="Channel"/>; every instance
/// listens and feeds the ticks of the others through its own validator, so prices, statuses and anomaly windows agree.
/// A payload that is not exactly the expected shape is ignored whole and counted. While the listening connection is
/// down this instance cannot know the shared feed: <see cref="Listening"/> is false and safe mode holds
/// (<c>market-data-relay-down</c>) until it listens again.
/// </summary>
public sealed class MarketDataRelay(
    TickRelayQueue queue, MarketDataIngest ingest, NpgsqlDataSource db, IOptions<MarketDataOptions> options, IOptions<MarketOptions> market,
    TimeProvider clock, ILogger<MarketDataRelay> logger) : BackgroundService
{
    public const string Channel = "portal_market_data";
    private const int Version = 1;
    // NOTIFY refuses payloads of 8000 bytes or more; one item encodes to well under 200 bytes (16-character symbol,
    // four 29-digit decimals, a 19-digit time), so a payload is closed once it passes this.
    private const int PayloadBudget = 7_600;
    private const int MaxItemsPerRound = 50_000;
    private const int MaxItemsPerPayload = 1_000;
    private const int MaxOriginsTracked = 1_000;

    public static readonly Counter Messages = Metrics.CreateCounter("portal_market_data_relay_messages_total",
        "Shared market-data messages received from other instances, by outcome (applied, malformed, replayed).",
        new CounterConfiguration { LabelNames = ["outcome"] });

    public static readonly Counter Dropped = Metrics.CreateCounter("portal_market_data_relay_dropped_total",
        "Validated ticks this instance could not share with the others, by reason (queue_full, publish_failed).",
        new CounterConfiguration { LabelNames = ["reason"] });

    private static readonly Gauge ListeningGauge = Metrics.CreateGauge("portal_market_data_relay_listening",
        "1 while this instance listens to the shared market data; 0 means it cannot know the shared feed (safe mode).");

    private readonly HashSet<string> _tradable = market.Value.Symbols.Select(s => s.Symbol).ToHashSet(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _lastSequence = new(StringComparer.Ordinal);
    private volatile bool _listening;
    private long _malformed;
    private long _sequence;
    private int _listenerPid;

    /// <summary>Identifies this process's messages, so it ignores its own.</summary>
    public string Origin { get; } = Guid.NewGuid().ToString("N");

    /// <summary>True while this instance listens to the shared feed.</summary>
    public bool Listening => _listening;

    /// <summary>Messages received that were not exactly the expected shape, since start.</summary>
    public long MalformedCount => Interlocked.Read(ref _malformed);

    /// <summary>The Postgres backend of the listening connection (0 when not listening), for fault drills.</summary>
    public int ListenerProcessId => Volatile.Read(ref _listenerPid);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Task.WhenAll(ListenAsync(stoppingToken), PublishAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task ListenAsync(CancellationToken ct)
    {
        ListeningGauge.Set(0);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var connection = await db.OpenConnectionAsync(ct);
                connection.Notification += OnNotification;
                await using (var listen = new NpgsqlCommand("listen " + Channel, connection)) await listen.ExecuteNonQueryAsync(ct);
                Volatile.Write(ref _listenerPid, connection.ProcessID);
                _listening = true;
                ListeningGauge.Set(1);
                logger.LogInformation("Listening to shared market data on {Channel}", Channel);
                while (true)
                {
                    // A connection that died without a word is found by the keep-alive query.
                    if (await connection.WaitAsync(options.Value.RelayKeepAliveInterval, ct)) continue;
                    await using var ping = new NpgsqlCommand("select 1", connection) { CommandTimeout = 5 };
                    await ping.ExecuteScalarAsync(ct);
                }
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                if (_listening) logger.LogError("Lost the shared market-data connection ({Error}); safe mode until it is back", ex.Message);
                else logger.LogWarning("Cannot listen to shared market data ({Error}); retrying", ex.Message);
            }
            finally
            {
                _listening = false;
                Volatile.Write(ref _listenerPid, 0);
                ListeningGauge.Set(0);
            }
            await Task.Delay(options.Value.RelayReconnectDelay, clock, ct);
        }
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        if (e.Channel == Channel) Receive(e.Payload);
    }

    /// <summary>Applies one message from another instance; anything not exactly the expected shape changes nothing and is counted.</summary>
    internal void Receive(string payload)
    {
        List<RelayItem>? items;
        string? origin;
        long sequence;
        try
        {
            (origin, sequence, items) = Decode(payload);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException or ArgumentException)
        {
            (origin, sequence, items) = (null, 0, null);
        }
        if (origin is null || items is null)
        {
            Interlocked.Increment(ref _malformed);
            Messages.WithLabels("malformed").Inc();
            logger.LogWarning("Ignored a malformed shared market-data message ({Length} bytes)", payload.Length);
            return;
        }
        if (origin == Origin) return;
        // Only the listener's thread calls this, one message at a time.
        if (_lastSequence.TryGetValue(origin, out var last) && sequence <= last)
        {
            Messages.WithLabels("replayed").Inc();
            return;
        }
        if (_lastSequence.Count >= MaxOriginsTracked) _lastSequence.Clear();
        _lastSequence[origin] = sequence;
        Apply(items);
        Messages.WithLabels("applied").Inc();
    }

    private void Apply(List<RelayItem> items)
    {
        var ticks = new List<Tick>(items.Count);
        foreach (var item in items)
        {
            if (!item.Reset)
            {
                ticks.Add(item.Tick);
                continue;
            }
            // A reset applies between the ticks that came before and after it, as on the instance that made it.
            if (ticks.Count > 0) ingest.IngestFromPeer(ticks);
            ticks.Clear();
            ingest.ResetFromPeer(item.Tick.Symbol);
        }
        if (ticks.Count > 0) ingest.IngestFromPeer(ticks);
    }

    /// <summary><c>{"v":1,"o":ORIGIN,"n":SEQ,"m":[["t",SYMBOL,PRICE,BID|null,ASK|null,SIZE|null,UTC_TICKS],["r",SYMBOL],...]}</c>.</summary>
    private (string? Origin, long Sequence, List<RelayItem>? Items) Decode(string payload)
    {
        using var document = JsonDocument.Parse(payload, new JsonDocumentOptions { MaxDepth = 4 });
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || root.EnumerateObject().Count() != 4) return default;
        if (!root.TryGetProperty("v", out var v) || v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var version) || version != Version) return default;
        if (!root.TryGetProperty("o", out var o) || o.ValueKind != JsonValueKind.String || o.GetString() is not { Length: > 0 and <= 64 } origin) return default;
        if (!root.TryGetProperty("n", out var n) || n.ValueKind != JsonValueKind.Number || !n.TryGetInt64(out var sequence) || sequence < 1) return default;
        if (!root.TryGetProperty("m", out var m) || m.ValueKind != JsonValueKind.Array) return default;
        var count = m.GetArrayLength();
        if (count is < 1 or > MaxItemsPerPayload) return default;
        var items = new List<RelayItem>(count);
        foreach (var element in m.EnumerateArray())
        {
            if (element.ValueKind != JsonValueKind.Array || element.GetArrayLength() < 2) return default;
            var kind = element[0].ValueKind == JsonValueKind.String ? element[0].GetString() : null;
            var symbol = element[1].ValueKind == JsonValueKind.String ? element[1].GetString() : null;
            if (symbol is null || !_tradable.Contains(symbol)) return default;
            if (kind == "r" && element.GetArrayLength() == 2)
            {
                items.Add(new RelayItem(new Tick(symbol, 0m, null, null, null, default), Reset: true));
                continue;
            }
            if (kind != "t" || element.GetArrayLength() != 7) return default;
            if (Number(element[2]) is not { } price || !Optional(element[3], out var bid) || !Optional(element[4], out var ask)
                || !Optional(element[5], out var size)) return default;
            if (element[6].ValueKind != JsonValueKind.Number || !element[6].TryGetInt64(out var utcTicks)
                || utcTicks < DateTimeOffset.MinValue.UtcTicks || utcTicks > DateTimeOffset.MaxValue.UtcTicks) return default;
            items.Add(new RelayItem(new Tick(symbol, price, bid, ask, size, new DateTimeOffset(utcTicks, TimeSpan.Zero)), Reset: false));
        }
        return (origin, sequence, items);

        static decimal? Number(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetDecimal(out var d) ? d : null;

        static bool Optional(JsonElement e, out decimal? value)
        {
            value = e.ValueKind == JsonValueKind.Null ? null : Number(e);
            return e.ValueKind == JsonValueKind.Null || value is not null;
        }
    }

    private async Task PublishAsync(CancellationToken ct)
    {
        NpgsqlConnection? connection = null;
        try
        {
            while (await queue.Reader.WaitToReadAsync(ct))
            {
                // Whatever queued while the previous round was sent goes in this one: batching without a timer.
                var (payloads, items) = Encode();
                try
                {
                    connection ??= await db.OpenConnectionAsync(ct);
                    await using var batch = new NpgsqlBatch(connection);
                    foreach (var payload in payloads)
                        batch.BatchCommands.Add(new NpgsqlBatchCommand("select pg_notify($1, $2)") { Parameters = { new() { Value = Channel }, new() { Value = payload } } });
                    await batch.ExecuteNonQueryAsync(ct);
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException && !ct.IsCancellationRequested)
                {
                    Dropped.WithLabels("publish_failed").Inc(items);
                    logger.LogWarning("Could not share {Count} ticks with the other instances: {Error}", items, ex.Message);
                    if (connection is not null) await connection.DisposeAsync();
                    connection = null;
                }
            }
        }
        finally
        {
            if (connection is not null) await connection.DisposeAsync();
        }
    }

    private (List<string> Payloads, int Items) Encode()
    {
        var payloads = new List<string>();
        var buffer = new ArrayBufferWriter<byte>(PayloadBudget + 512);
        Utf8JsonWriter? json = null;
        int items = 0, inPayload = 0;
        while (items < MaxItemsPerRound && queue.Reader.TryRead(out var item))
        {
            if (json is null)
            {
                buffer.ResetWrittenCount();
                json = new Utf8JsonWriter(buffer);
                json.WriteStartObject();
                json.WriteNumber("v", Version);
                json.WriteString("o", Origin);
                json.WriteNumber("n", ++_sequence);
                json.WriteStartArray("m");
                inPayload = 0;
            }
            json.WriteStartArray();
            json.WriteStringValue(item.Reset ? "r" : "t");
            json.WriteStringValue(item.Tick.Symbol);
            if (!item.Reset)
            {
                var tick = item.Tick;
                json.WriteNumberValue(tick.Price);
                WriteOptional(json, tick.Bid);
                WriteOptional(json, tick.Ask);
                WriteOptional(json, tick.Size);
                json.WriteNumberValue(tick.Timestamp.UtcTicks);
            }
            json.WriteEndArray();
            json.Flush();
            items++;
            if (buffer.WrittenCount >= PayloadBudget || ++inPayload >= MaxItemsPerPayload)
            {
                payloads.Add(Close(json, buffer));
                json = null;
            }
        }
        if (json is not null) payloads.Add(Close(json, buffer));
        return (payloads, items);

        static void WriteOptional(Utf8JsonWriter json, decimal? value)
        {
            if (value is { } v) json.WriteNumberValue(v);
            else json.WriteNullValue();
        }

        static string Close(Utf8JsonWriter json, ArrayBufferWriter<byte> buffer)
        {
            json.WriteEndArray();
            json.WriteEndObject();
            json.Flush();
            json.Dispose();
            return Encoding.UTF8.GetString(buffer.WrittenSpan);
        }
    }
}
