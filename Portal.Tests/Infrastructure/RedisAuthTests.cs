using System.Net;
using System.Net.Sockets;
using System.Text;
using StackExchange.Redis;

namespace Portal.Tests.Infrastructure;

/// <summary>
/// Anything on the Redis network may be hostile: Redis answers nobody who does not sign in as Portal's ACL user,
/// neither in the tests' server nor in the one ./run starts (scripts/services.sh), and the default user is off.
/// </summary>
public sealed class RedisAuthTests
{
    private static async Task<string> SendRawAsync(int port, string command)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"));
        var buffer = new byte[512];
        var read = await stream.ReadAsync(buffer);
        return Encoding.ASCII.GetString(buffer, 0, read);
    }

    [Fact]
    public async Task The_test_redis_refuses_a_client_without_portals_password()
    {
        var redis = (await TestServices.GetAsync()).Redis;

        Assert.StartsWith("-NOAUTH", await SendRawAsync(redis.Port, "PING"));
        Assert.StartsWith("-WRONGPASS", await SendRawAsync(redis.Port, "AUTH default \"\""));
        Assert.StartsWith("-WRONGPASS", await SendRawAsync(redis.Port, "AUTH portal wrong-password"));
        Assert.Contains("user=portal", redis.ConnectionString, StringComparison.Ordinal);

        await using var portal = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        Assert.True((await portal.GetDatabase().PingAsync()) >= TimeSpan.Zero);
    }

    [Fact]
    public async Task The_redis_that_run_starts_refuses_a_client_without_the_password_and_keeps_no_password_in_its_files()
    {
        var dir = Directory.CreateTempSubdirectory("portal-redis-run-").FullName;
        var port = ServerProcesses.FreePort();
        const string password = "run-like-password-0123456789";
        var script = $"""
            set -euo pipefail
            source '{TestServices.RepositoryRoot}/scripts/services.sh'
            redis_start '{dir}' {port} '{password}'
            echo "anonymous: $(redis-cli -p {port} ping 2>&1)"
            echo "portal: $(REDISCLI_AUTH='{password}' redis-cli --no-auth-warning --user portal -p {port} ping 2>&1)"
            redis_stop {port} '{password}'
            """;
        try
        {
            var scriptFile = Path.Combine(dir, "..", Path.GetFileName(dir) + ".sh");
            await File.WriteAllTextAsync(scriptFile, script);
            string output;
            try
            {
                output = await ServerProcesses.RunAsync("bash", scriptFile);
            }
            finally
            {
                File.Delete(scriptFile);
            }

            Assert.Contains("anonymous: NOAUTH", output, StringComparison.Ordinal);
            Assert.Contains("portal: PONG", output, StringComparison.Ordinal);
            foreach (var file in Directory.GetFiles(dir, "*", SearchOption.AllDirectories))
                Assert.DoesNotContain(password, await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        }
        finally
        {
            // Stopped by its pid if the script failed half way (redis_stop normally did it).
            if (File.Exists(Path.Combine(dir, "redis.pid")) && int.TryParse(await File.ReadAllTextAsync(Path.Combine(dir, "redis.pid")), out var pid))
                try { System.Diagnostics.Process.GetProcessById(pid).Kill(); } catch (ArgumentException) { }
            Directory.Delete(dir, recursive: true);
        }
    }
}
