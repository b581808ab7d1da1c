using System.Collections.Concurrent;
using System.Threading.Channels;
using StackExchange.Redis;

namespace Portal.Infrastructure.Redis;

/// <summary>
/// Handles a pub/sub subscription's messages on a thread of its own, for messages that must take effect at once
/// however busy the instance is. StackExchange.Redis runs handler subscriptions (<c>SubscribeAsync(channel, handler)</c>)
/// from the thread pool's global queue, where under load a message waited hundreds of milliseconds behind queued
/// requests. A queue subscription is written by the socket reader itself, and an await on it resumes through this
/// thread's synchronization context: no step between the socket and the handler waits for the thread pool.
/// </summary>
public sealed class DedicatedSubscriberThread : SynchronizationContext, IDisposable
{
    private readonly BlockingCollection<(SendOrPostCallback Callback, object? State)> _work = new();
    private readonly ILogger _logger;

    public DedicatedSubscriberThread(string name, ILogger logger)
    {
        _logger = logger;
        new Thread(Run) { IsBackground = true, Name = name }.Start();
    }

    /// <summary>Calls <paramref name="handler"/> for each message of <paramref name="queue"/>, in order, on this thread.</summary>
    public void Consume(ChannelMessageQueue queue, Action<RedisValue> handler) => Post(_ => _ = ConsumeAsync(queue, handler), null);

    public override void Post(SendOrPostCallback d, object? state)
    {
        try
        {
            _work.Add((d, state));
        }
        catch (InvalidOperationException)
        {
            // Disposed: the host is stopping, and a message arriving now has nothing left to update.
        }
    }

    public override SynchronizationContext CreateCopy() => this;

    public void Dispose() => _work.CompleteAdding();

    private async Task ConsumeAsync(ChannelMessageQueue queue, Action<RedisValue> handler)
    {
        while (true)
        {
            ChannelMessage message;
            try
            {
                // Not ConfigureAwait(false): the continuation must come back to this thread, not go to the pool.
                message = await queue.ReadAsync();
            }
            catch (ChannelClosedException)
            {
                return; // unsubscribed or the multiplexer was disposed
            }
            try
            {
                handler(message.Message);
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "Handler of {Channel} failed", queue.Channel);
            }
        }
    }

    private void Run()
    {
        SetSynchronizationContext(this);
        foreach (var (callback, state) in _work.GetConsumingEnumerable())
            callback(state);
    }
}
