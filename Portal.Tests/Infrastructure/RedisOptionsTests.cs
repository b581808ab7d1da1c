using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Portal.Tests.Infrastructure;

/// <summary>Redis' reply timeout is configuration like every threshold: validated at start-up, naming the key.</summary>
public sealed class RedisOptionsTests
{
    [Fact]
    public async Task A_reply_timeout_out_of_range_stops_the_host_naming_the_key()
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => PortalFactory.StartAsync(new Dictionary<string, string?> { ["Redis:OperationTimeout"] = "00:00:00.010" }));
        var validation = ex as OptionsValidationException ?? ex.InnerException as OptionsValidationException
            ?? (ex as AggregateException)?.InnerExceptions.OfType<OptionsValidationException>().FirstOrDefault();
        Assert.True(validation is not null, ex.ToString());
        Assert.Contains(validation.Failures, f => f.Contains("Redis:OperationTimeout", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_configured_reply_timeout_is_the_connections()
    {
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?> { ["Redis:OperationTimeout"] = "00:00:03" });
        Assert.Equal(3000, portal.Get<IConnectionMultiplexer>().TimeoutMilliseconds);
    }
}
