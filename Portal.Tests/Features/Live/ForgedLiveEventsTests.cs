using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Portal.Features.Identity;
using Portal.Features.Live;
using Portal.Tests.Infrastructure;
using StackExchange.Redis;

namespace Portal.Tests.Features.Live;

/// <summary>
/// Someone holding Redis' password on the live-event channel: what they publish must never reach people's pages or hub
/// clients as if an instance had said it, what they capture must not be readable, and a captured batch must not play twice.
/// </summary>
public sealed class ForgedLiveEventsTests
{
    private const string Marker = "test.marker";

    [Fact]
    public async Task Forged_or_replayed_batches_reach_no_view_are_refused_and_reported_and_captured_ones_are_unreadable()
    {
        var sink = new RecordingSecurityEventSink();
        await using var a = await PortalFactory.StartAsync(new Dictionary<string, string?> { ["Live:MaxBatchAge"] = "00:00:05" },
            configure: builder => RecordingSecurityEventSink.Install(builder, sink));
        await using var b = await a.StartPeerAsync();
        var busOfB = b.Get<OpsEventBus>();
        var seenOnA = new ConcurrentQueue<OpsEvent>();
        a.Get<OpsEventBus>().Received += seenOnA.Enqueue;
        var seenOnB = new ConcurrentQueue<OpsEvent>();
        busOfB.Received += seenOnB.Enqueue;

        await using var attacker = await ConnectionMultiplexer.ConnectAsync(a.RedisConnectionString);
        var channel = RedisChannel.Literal(a.RedisKeyPrefix + "ops-events");
        var captured = new ConcurrentQueue<byte[]>();
        (await attacker.GetSubscriber().SubscribeAsync(channel)).OnMessage(message => captured.Enqueue((byte[])message.Message!));
        var originOfB = Encoding.UTF8.GetBytes(busOfB.Origin + "\n");

        // A genuine batch from B, seen on A, captured by the attacker.
        busOfB.Publish(Marker, new { n = 1, secret = "client-order-4711" });
        await Poll.UntilAsync(() => Markers(seenOnA).Contains(1), "A gets B's first event");
        await Poll.UntilAsync(() => captured.Any(m => m.AsSpan().StartsWith(originOfB)), "the attacker captures B's batch");
        var genuine = captured.First(m => m.AsSpan().StartsWith(originOfB));
        var capturedAt = DateTimeOffset.UtcNow;
        Assert.DoesNotContain("client-order-4711", Encoding.UTF8.GetString(genuine), StringComparison.Ordinal);
        var sealedPart = genuine[originOfB.Length..];

        var forgedHaltProgress = JsonSerializer.Serialize(new[]
        {
            new { type = OpsEventTypes.HaltProgress, at = DateTimeOffset.UtcNow, origin = busOfB.Origin, data = new { scope = "global", canceledOrders = 99 } },
        });
        var subscriber = attacker.GetSubscriber();
        await subscriber.PublishAsync(channel, forgedHaltProgress);                                          // unsealed, as events used to travel
        await subscriber.PublishAsync(channel, Encoding.UTF8.GetBytes("evil:1:x\n" + forgedHaltProgress));   // unsealed behind a made-up origin
        await subscriber.PublishAsync(channel, genuine);                                                     // B's batch again: A has seen it
        await subscriber.PublishAsync(channel, (byte[])[.. Encoding.UTF8.GetBytes("evil:1:x\n"), .. sealedPart]);    // B's seal under another origin

        // Redis delivers a channel's messages in order and each instance reads them one at a time: once each instance has
        // the other's next event, it has decided every message above.
        busOfB.Publish(Marker, new { n = 2 });
        a.Get<OpsEventBus>().Publish(Marker, new { n = 100 });
        await Poll.UntilAsync(() => Markers(seenOnA).Contains(2), "A gets B's second event");
        await Poll.UntilAsync(() => Markers(seenOnB).Contains(100), "B gets A's event");
        Assert.Equal(new[] { 1, 2, 100 }, Markers(seenOnA).Order());
        Assert.DoesNotContain(seenOnA, e => e.Type == OpsEventTypes.HaltProgress);

        // B skips whatever starts with its own origin; the rest is refused by both instances, each refusal a security event.
        string[] refused = [" unsealed", " unsealed", "evil:1:x unsealed", "evil:1:x unsealed", $"{busOfB.Origin} replayed", "evil:1:x malformed", "evil:1:x malformed"];
        Assert.Equal(refused.Order(StringComparer.Ordinal), Refusals(sink).Order(StringComparer.Ordinal));

        // The captured batch, once older than Live:MaxBatchAge, is refused as stale even by an instance that never saw it.
        await using var c = await a.StartPeerAsync();
        var seenOnC = new ConcurrentQueue<OpsEvent>();
        c.Get<OpsEventBus>().Received += seenOnC.Enqueue;
        await Poll.UntilAsync(() => DateTimeOffset.UtcNow > capturedAt.AddSeconds(6), "the captured batch is older than Live:MaxBatchAge");
        await subscriber.PublishAsync(channel, genuine);
        busOfB.Publish(Marker, new { n = 3 });
        await Poll.UntilAsync(() => Markers(seenOnC).Contains(3), "C gets B's third event");
        Assert.Equal([3], Markers(seenOnC));
        Assert.Contains($"{busOfB.Origin} stale", Refusals(sink));
    }

    private static List<int> Markers(IEnumerable<OpsEvent> seen) =>
        [.. seen.Where(e => e.Type == Marker).Select(e => e.Data.GetProperty("n").GetInt32())];

    private static List<string> Refusals(RecordingSecurityEventSink sink) =>
        [.. sink.Events.Where(e => e.Kind == SecurityEventKind.ForgedLiveEvents).Select(e => $"{e.Subject} {e.Reason![..e.Reason!.IndexOf(':')]}")];
}
