using StackExchange.Redis;

namespace Portal.Infrastructure.Redis;

public static class RedisSubscriptions
{
    /// <summary>
    /// Subscribes to <paramref name="channel"/>, or takes the subscription back before the failure goes on. The library
    /// registers the queue before it asks Redis and subscribes it again after each reconnect: a queue whose subscribe
    /// failed would collect every later message with nobody reading it (the queue is unbounded), and each retry would
    /// add another.
    /// </summary>
    public static async Task<ChannelMessageQueue> SubscribeOrWithdrawAsync(this ISubscriber subscriber, RedisChannel channel)
    {
        try
        {
            return await subscriber.SubscribeAsync(channel);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            try
            {
                await subscriber.UnsubscribeAsync(channel);
            }
            catch (Exception unsubscribe) when (unsubscribe is RedisException or TimeoutException)
            {
                // Withdrawn here already; only telling Redis failed, and a connection that comes back starts without it.
            }
            throw;
        }
    }
}
