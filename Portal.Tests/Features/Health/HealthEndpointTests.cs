using System.Net;
using System.Text.Json;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Health;

/// <summary>/health/live and /health/ready against real servers; the Redis test owns the server it kills.</summary>
public sealed class HealthEndpointTests
{
    private static readonly string[] ReadyChecks = ["postgres", "redis", "broker", "market-data", "safe-mode"];

    private static async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        return (response.StatusCode, await response.JsonAsync());
    }

    private static string CheckStatus(JsonElement body, string check) => body.GetProperty("checks").GetProperty(check).GetProperty("status").GetString()!;

    [Fact]
    public async Task Ready_lists_every_dependency_and_is_healthy_when_all_answer()
    {
        await using var portal = await PortalFactory.StartAsync();
        using var anonymous = portal.CreateClient();

        var (status, body) = await GetAsync(anonymous, "/health/ready");

        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal("Healthy", body.GetProperty("status").GetString());
        foreach (var check in ReadyChecks) Assert.Equal("Healthy", CheckStatus(body, check));
        var (liveStatus, live) = await GetAsync(anonymous, "/health/live");
        Assert.Equal(HttpStatusCode.OK, liveStatus);
        Assert.Empty(live.GetProperty("checks").EnumerateObject());
    }

    [Fact]
    public async Task Ready_fails_naming_Redis_while_it_is_down_live_still_answers_and_ready_recovers()
    {
        await using var redis = await RedisServer.StartNewAsync();
        await using var portal = await PortalFactory.StartAsync(redisConnection: redis.ConnectionString);
        using var anonymous = portal.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(anonymous, "/health/ready")).Status);

        redis.Kill();
        JsonElement down = default;
        await Poll.UntilAsync(async () => ((_, down) = await GetAsync(anonymous, "/health/ready")).Item1 == HttpStatusCode.ServiceUnavailable,
            "/health/ready answers 503");

        Assert.Equal("Unhealthy", down.GetProperty("status").GetString());
        Assert.Equal("Unhealthy", CheckStatus(down, "redis"));
        Assert.Equal("Unhealthy", CheckStatus(down, "safe-mode"));
        Assert.Equal("Healthy", CheckStatus(down, "postgres"));
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(anonymous, "/health/live")).Status);

        await redis.StartAsync();
        await Poll.UntilAsync(async () => (await GetAsync(anonymous, "/health/ready")).Status == HttpStatusCode.OK,
            "/health/ready is healthy again after Redis restarted", TimeSpan.FromSeconds(20));
    }
}
