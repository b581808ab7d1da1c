using System.Diagnostics;
using System.Net.Http.Headers;
using Portal.Features.Audit;
using Portal.Features.Auth;
using Portal.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Portal.Tests.Features.Audit;

/// <summary>Portal as a separate process that can be killed outright, on a test database.</summary>
public sealed class AuditCrashTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_writer_killed_with_sigkill_under_load_leaves_a_chain_that_verifies_and_appends_go_on_after_restart()
    {
        await using var observer = await PortalFactory.StartAsync();
        var (key, _) = await observer.Get<ApiKeyService>().CreateAsync("crash-test", [Scopes.Orders], strategies: ["s1"]);
        var port = ServerProcesses.FreePort();
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

        var first = await StartPortalAsync(observer, port, client);
        var before = await observer.HeadSeqAsync();
        using var stop = new CancellationTokenSource();
        // No prices: every order is refused, and every refusal is an audit event, so the group committer stays busy.
        var load = Task.WhenAll(Enumerable.Range(0, 32).Select(w => PostOrdersAsync(client, $"k{w}", stop.Token)));
        for (var i = 0; i < 600 && await observer.HeadSeqAsync() < before + 400; i++) await Task.Delay(50);
        first.Kill();
        await first.WaitForExitAsync();
        await stop.CancelAsync();
        await load;
        var killedAt = await observer.HeadSeqAsync();
        output.WriteLine($"killed at seq {killedAt} ({killedAt - before} events appended by the child)");
        Assert.True(killedAt > before + 200, $"too little load before the kill: {killedAt - before}");

        var afterKill = await observer.Get<AuditVerification>().VerifyAsync(AuditVerificationMode.Full, CancellationToken.None);
        Assert.True(afterKill.Ok, afterKill.Problem);
        Assert.Equal(killedAt, afterKill.ToSeq);

        using var second = await StartPortalAsync(observer, port, client);
        for (var i = 0; i < 50; i++)
            await client.PostOrderAsync(OrderRequests.Market($"after-{i}", 1m));
        var afterRestart = await observer.Get<AuditVerification>().VerifyAsync(AuditVerificationMode.Full, CancellationToken.None);
        Assert.True(afterRestart.Ok, afterRestart.Problem);
        Assert.True(afterRestart.ToSeq >= killedAt + 50, $"{afterRestart.ToSeq} < {killedAt} + 50");
        second.Kill();
        await second.WaitForExitAsync();
    }

    private static async Task PostOrdersAsync(HttpClient client, string prefix, CancellationToken ct)
    {
        for (var i = 0; !ct.IsCancellationRequested; i++)
        {
            try
            {
                await client.PostAsync("/api/orders", new StringContent(OrderRequests.Market($"{prefix}-{i}", 1m).ToJsonString(),
                    System.Text.Encoding.UTF8, "application/json"), ct);
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                // The server died under us: that is the point.
                return;
            }
        }
    }

    /// <summary>Runs the built Portal.dll on the observer's database (same signing key, own checkpoint file) and waits until it serves.</summary>
    private async Task<Process> StartPortalAsync(PortalFactory observer, int port, HttpClient client)
    {
        var services = await TestServices.GetAsync();
        var testBin = AppContext.BaseDirectory;
        var portalBin = testBin.Replace($"{Path.DirectorySeparatorChar}Portal.Tests{Path.DirectorySeparatorChar}", $"{Path.DirectorySeparatorChar}Portal{Path.DirectorySeparatorChar}", StringComparison.Ordinal);
        var dll = File.Exists(Path.Combine(portalBin, "Portal.dll")) ? Path.Combine(portalBin, "Portal.dll") : Path.Combine(testBin, "Portal.dll");
        var info = new ProcessStartInfo("dotnet", $"\"{dll}\" --urls http://127.0.0.1:{port}")
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Test";
        info.Environment["ConnectionStrings__Postgres"] = observer.AppConnectionString;
        info.Environment["ConnectionStrings__Redis"] = services.Redis.ConnectionString;
        info.Environment["Redis__KeyPrefix"] = $"t{Guid.NewGuid():N}:";
        info.Environment["Audit__SigningKeyPem"] = PortalFactory.AuditSigningKeyPem;
        info.Environment["Audit__CheckpointFile"] = observer.CheckpointFile + ".child";
        info.Environment["Hangfire__ServerEnabled"] = "false";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) output.WriteLine("child: " + e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.WriteLine("child! " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        for (var i = 0; i < 600; i++)
        {
            if (process.HasExited) throw new InvalidOperationException($"Portal exited with {process.ExitCode} before serving.");
            try
            {
                // Ready when an order gets a decision (limits and the risk view are loaded).
                var response = await client.PostOrderAsync(OrderRequests.Market("ready-" + Guid.NewGuid().ToString("N")[..12], 1m));
                if ((int)response.StatusCode == 422) return process;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        process.Kill();
        throw new TimeoutException("Portal did not serve within a minute.");
    }
}
