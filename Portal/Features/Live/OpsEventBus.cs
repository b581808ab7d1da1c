using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;
using Portal.Features.Identity;
using Portal.Infrastructure.Redis;
using Prometheus;
using StackExchange.Redis;

namespace Portal.Features.Live;

/// <summary>One thing that happened, for live views: the portal's circuits and the SignalR hub.</summary>
public sealed record OpsEvent(string Type, DateTimeOffset At, string Origin, JsonElement Data);

/// <summary>Event types; the hub uses them as method names.</summary>
public static class OpsEventTypes
{
    public const string OrderDecision = "orderDecision";
    public const string OrderUpdate = "orderUpdate";
    public const string TradingState = "tradingState";
    public const string HaltProgress = "haltProgress";
    public const string SafeMode = "safeMode";
    public const string Limits = "limits";
    public const string Alert = "alert";
    public const string MarketData = "marketData";
    public const string ModelDrift = "modelDrift";
}

/// <summary>
/// The live event stream. Each event is published once, by the instance where it happened: it is
/// delivered to this instance's subscribers at once and to every other instance through Redis
/// pub/sub, which delivers it to theirs. No polling anywhere. If Redis is down, this instance's
/// views still see its own events (including the safe mode that Redis' absence causes).
/// Events bound for other instances leave in batches: one Redis message carries whatever queued while the previous
/// one was being sent, so thousands of order events a second cost a few messages, not thousands, on both ends of the
/// pub/sub connection that also carries halts.
/// Anyone holding Redis' password can publish and read, so each batch is sealed with the data-protection key ring that
/// the instances share through PostgreSQL (authenticated encryption): a batch no instance sealed, one older than
/// <see cref="LiveOptions.MaxBatchAge"/> or one already received is refused, counted and reported as a security event
/// (docs/live-events.md, "Between instances").
/// </summary>
public sealed class OpsEventBus(IConnectionMultiplexer redis, IOptions<RedisOptions> redisOptions, IOptions<LiveOptions> liveOptions,
    IDataProtectionProvider dataProtection, ISecurityEventSink securityEvents, TimeProvider clock, ILogger<OpsEventBus> logger)
    : BackgroundService
{
    private const int MaxBatch = 500;

    public static readonly Counter Refused = Metrics.CreateCounter("portal_live_events_refused_total",
        "Batches of live events from Redis refused: not sealed by an instance, replayed, too old or malformed, by reason.",
        new CounterConfiguration { LabelNames = ["reason"] });

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    private readonly RedisChannel _channel = RedisChannel.Literal(redisOptions.Value.KeyPrefix + "ops-events");
    private readonly IDataProtector _seal = dataProtection.CreateProtector("Portal.Live.OpsEventBatch.v1");

    // Bounded: while Redis is down other instances miss these events anyway (they are not replayed), so the oldest go first.
    private readonly Channel<OpsEvent> _outbox = Channel.CreateBounded<OpsEvent>(
        new BoundedChannelOptions(10_000) { SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest });

    private long _sentBatches;
    private readonly SemaphoreSlim _subscribing = new(1, 1);
    private bool _subscribed;

    // The newest batch received from each other instance. Touched only by the subscription's sequential handler.
    private readonly Dictionary<string, (long Seq, DateTimeOffset SentAt)> _newestFrom = new(StringComparer.Ordinal);

    /// <summary>This process, so it can ignore its own events coming back from Redis.</summary>
    public string Origin { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    // Each message starts with its sender's origin in clear, so an instance skips its own batches without opening them.
    private byte[] OriginPrefix => field ??= Encoding.UTF8.GetBytes(Origin + "\n");

    public event Action<OpsEvent>? Received;

    public void Publish<T>(string type, T data)
    {
        var opsEvent = new OpsEvent(type, clock.GetUtcNow(), Origin, JsonSerializer.SerializeToElement(data, Json));
        Deliver(opsEvent);
        _outbox.Writer.TryWrite(opsEvent);
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionRestored += OnRedisRestored;
        await SubscribeAsync();
        await base.StartAsync(cancellationToken);
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionRestored -= OnRedisRestored;
        return base.StopAsync(cancellationToken);
    }

    /// <summary>Not subscribed yet (Redis was down when this instance started): each connection Redis accepts is another try.</summary>
    private void OnRedisRestored(object? sender, ConnectionFailedEventArgs e) => _ = SubscribeAsync();

    private async Task SubscribeAsync()
    {
        // One at a time: two queues on the channel would hand every batch over twice, and the second copy is a replay.
        await _subscribing.WaitAsync();
        try
        {
            if (_subscribed) return;
            // A queue subscription hands messages over one at a time, in the order Redis delivered them: a sender's
            // batches arrive in sequence, so any batch not newer than the last one from its sender is a replay.
            (await redis.GetSubscriber().SubscribeOrWithdrawAsync(_channel)).OnMessage(message => OnMessage(message.Message));
            _subscribed = true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Once subscribed, the multiplexer resubscribes by itself after reconnects; until then each reconnect retries.
            logger.LogWarning("Live events from other instances unavailable until Redis answers: {Error}", ex.Message);
        }
        finally
        {
            _subscribing.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<OpsEvent>(MaxBatch);
        var reader = _outbox.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                while (batch.Count < MaxBatch && reader.TryRead(out var opsEvent)) batch.Add(opsEvent);
                await BroadcastAsync(batch);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task BroadcastAsync(List<OpsEvent> events)
    {
        byte[] message;
        try
        {
            var sealedBatch = _seal.Protect(JsonSerializer.SerializeToUtf8Bytes(new SealedBatch(Origin, ++_sentBatches, clock.GetUtcNow(), events), Json));
            message = [.. OriginPrefix, .. sealedBatch];
        }
        catch (Exception ex)
        {
            // The key ring is read from PostgreSQL: while it cannot be, other instances miss these events, as while Redis is down.
            logger.LogWarning(ex, "{Count} live events not broadcast: the data-protection key ring is unavailable", events.Count);
            return;
        }
        try
        {
            await redis.GetSubscriber().PublishAsync(_channel, message);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            logger.LogDebug("{Count} live events not broadcast: {Error}", events.Count, ex.Message);
        }
    }

    private void OnMessage(RedisValue message)
    {
        var bytes = (byte[]?)message ?? [];
        if (bytes.AsSpan().StartsWith(OriginPrefix)) return;
        var newline = bytes.AsSpan().IndexOf((byte)'\n');
        var claimedOrigin = newline < 0 ? "" : Encoding.UTF8.GetString(bytes, 0, newline);
        SealedBatch? batch;
        try
        {
            batch = JsonSerializer.Deserialize<SealedBatch>(_seal.Unprotect(bytes[(newline + 1)..]), Json);
        }
        catch (CryptographicException)
        {
            Refuse(claimedOrigin, "unsealed", "not sealed with the deployment's key ring");
            return;
        }
        catch (JsonException)
        {
            Refuse(claimedOrigin, "malformed", "sealed, but not a batch of events");
            return;
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "A batch of live events from {Origin} could not be opened: the data-protection key ring is unavailable", UntrustedText.Printable(claimedOrigin));
            return;
        }
        if (batch?.Events is not { } events || batch.Origin != claimedOrigin || events.Any(e => e?.Origin != batch.Origin))
        {
            Refuse(claimedOrigin, "malformed", "sealed, but its origins do not match");
            return;
        }
        var now = clock.GetUtcNow();
        if ((now - batch.SentAt).Duration() > liveOptions.Value.MaxBatchAge)
        {
            Refuse(claimedOrigin, "stale", $"sent at {batch.SentAt:O}, received at {now:O}");
            return;
        }
        if (batch.Origin == Origin || _newestFrom.TryGetValue(batch.Origin, out var newest) && batch.Seq <= newest.Seq)
        {
            Refuse(claimedOrigin, "replayed", $"batch {batch.Seq} received before");
            return;
        }
        Remember(batch, now);
        foreach (var opsEvent in events) Deliver(opsEvent);
    }

    private void Remember(SealedBatch batch, DateTimeOffset now)
    {
        // A sender unheard for longer than a batch may live can be forgotten: its older batches are refused as stale.
        if (!_newestFrom.ContainsKey(batch.Origin))
            foreach (var (origin, newest) in _newestFrom.Where(s => now - s.Value.SentAt > liveOptions.Value.MaxBatchAge).ToList())
                _newestFrom.Remove(origin);
        _newestFrom[batch.Origin] = (batch.Seq, batch.SentAt);
    }

    private void Refuse(string claimedOrigin, string reason, string detail)
    {
        Refused.WithLabels(reason).Inc();
        var origin = UntrustedText.Printable(claimedOrigin);
        logger.LogWarning("Refused a batch of live events from Redis claiming origin {Origin} ({Reason}): {Detail}", origin, reason, detail);
        securityEvents.RecordWithoutWaiting(new SecurityEvent(SecurityEventKind.ForgedLiveEvents, clock.GetUtcNow(), null, origin, "redis-message", null,
            $"{reason}: {detail}"), logger);
    }

    private void Deliver(OpsEvent opsEvent)
    {
        var handlers = Received;
        if (handlers is null) return;
        // One failing view must not stop the others, nor the caller that published.
        foreach (var handler in handlers.GetInvocationList().Cast<Action<OpsEvent>>())
        {
            try
            {
                handler(opsEvent);
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "A live-event subscriber failed on {Type}", opsEvent.Type);
            }
        }
    }

    /// <summary>What travels between instances, sealed: the sender, its batch number (1, 2, ... per process) and when it was sent.</summary>
    private sealed record SealedBatch(string Origin, long Seq, DateTimeOffset SentAt, IReadOnlyList<OpsEvent> Events);
}
