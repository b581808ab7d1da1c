namespace Portal.Tests.Infrastructure;

/// <summary>Waits for an eventually-true condition (propagation across processes), failing with a clear message.</summary>
public static class Poll
{
    public static async Task<TimeSpan> UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        await UntilAsync(() => Task.FromResult(condition()), what, timeout);

    public static async Task<TimeSpan> UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var limit = timeout ?? TimeSpan.FromSeconds(10);
        while (watch.Elapsed < limit)
        {
            if (await condition()) return watch.Elapsed;
            await Task.Delay(20);
        }
        throw new TimeoutException($"Timed out after {limit} waiting until {what}.");
    }
}
