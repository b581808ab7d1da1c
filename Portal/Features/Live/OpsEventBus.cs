using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Portal.Infrastructure.Redis;
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
/// </summary>
public sealed class OpsEventBus(IConnectionMultiplexer redis, IOptions<RedisOptions> redisOptions, TimeProvider clock, ILogger<OpsEventBus> logger)
    : BackgroundService
{
    private const int MaxBatch = 500;

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    private readonly RedisChannel _channel = RedisChannel.Literal(redisOptions.Value.KeyPrefix + "ops-events");

    // Bounded: while Redis is down other instances miss these events anyway (they are not replayed), so the oldest go first.
    private readonly Channel<OpsEvent> _outbox = Channel.CreateBounded<OpsEvent>(
        new BoundedChannelOptions(10_000) { SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest });

    /// <summary>This process, so it can ignore its own events coming back from Redis.</summary>
    public string Origin { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    // The origin as the events carry it (a JSON string, quotes included).
    private byte[] OriginJson => field ??= JsonSerializer.SerializeToUtf8Bytes(Origin, Json);

    public event Action<OpsEvent>? Received;

    public void Publish<T>(string type, T data)
    {
        var opsEvent = new OpsEvent(type, clock.GetUtcNow(), Origin, JsonSerializer.SerializeToElement(data, Json));
        Deliver(opsEvent);
        _outbox.Writer.TryWrite(opsEvent);
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await redis.GetSubscriber().SubscribeAsync(_channel, (_, message) => OnMessage(message));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Live views of other instances' events resume when Redis does; the multiplexer resubscribes.
            logger.LogWarning("Live events from other instances unavailable until Redis answers: {Error}", ex.Message);
        }
        await base.StartAsync(cancellationToken);
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

    private async Task BroadcastAsync(List<OpsEvent> batch)
    {
        try
        {
            await redis.GetSubscriber().PublishAsync(_channel, JsonSerializer.SerializeToUtf8Bytes(batch, Json));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            logger.LogDebug("{Count} live events not broadcast: {Error}", batch.Count, ex.Message);
        }
    }

    private void OnMessage(RedisValue message)
    {
        try
        {
            var bytes = (byte[])message!;
            // This instance's own batches come back too: every event in them carries its origin, found far more cheaply
            // than the batch is read (a few thousand order events a second would otherwise be parsed only to be dropped).
            if (bytes.AsSpan().IndexOf(OriginJson) >= 0) return;
            if (JsonSerializer.Deserialize<OpsEvent[]>(bytes, Json) is not { } batch) return;
            foreach (var opsEvent in batch)
                if (opsEvent.Origin != Origin) Deliver(opsEvent);
        }
        catch (JsonException ex)
        {
            logger.LogWarning(ex, "Ignored a malformed live event");
        }
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
}
