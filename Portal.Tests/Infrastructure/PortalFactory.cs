using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Portal.Domain.Audit;
using Portal.Features.Auth;
using Portal.Features.Broker;
using Portal.Features.Risk;

namespace Portal.Tests.Infrastructure;

/// <summary>
/// Portal in process on real Postgres (its own database) and real Redis (its own key prefix).
/// Create with <see cref="StartAsync"/>; settings override configuration for one test's needs.
/// </summary>
public sealed class PortalFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;

    /// <summary>One audit signing key for the whole run, as a deployment has one.</summary>
    public static readonly string AuditSigningKeyPem = GenerateSigningKey();

    private PortalFactory(Dictionary<string, string?> settings) => _settings = settings;

    public string AppConnectionString => _settings["ConnectionStrings:Postgres"]!;
    public string OwnerConnectionString => _settings["ConnectionStrings:PostgresMigrations"]!;
    public string CheckpointFile => _settings["Audit:CheckpointFile"]!;

    public static async Task<PortalFactory> StartAsync(IReadOnlyDictionary<string, string?>? overrides = null, string? redisConnection = null)
    {
        var services = await TestServices.GetAsync();
        var (app, owner) = await services.CreateDatabaseAsync();
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = app,
            ["ConnectionStrings:PostgresMigrations"] = owner,
            ["ConnectionStrings:Redis"] = redisConnection ?? services.Redis.ConnectionString,
            ["Redis:KeyPrefix"] = $"t{Guid.NewGuid():N}:",
            ["Demo:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Audit:SigningKeyPem"] = AuditSigningKeyPem,
            ["Audit:CheckpointFile"] = Path.Combine(Path.GetTempPath(), "portal-tests", $"checkpoints-{Guid.NewGuid():N}.jsonl"),
            // Hangfire is process-global: no job server in tests; jobs are called directly.
            ["Hangfire:ServerEnabled"] = "false",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>()) settings[key] = value;
        var factory = new PortalFactory(settings);
        _ = factory.Server; // start the host
        await factory.WaitUntilReadyAsync();
        return factory;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Test");
        foreach (var (key, value) in _settings) builder.UseSetting(key, value);
    }

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    /// <summary>Orders are refused until the paper broker, limits and risk view are loaded.</summary>
    public async Task WaitUntilReadyAsync()
    {
        for (var i = 0; i < 200; i++)
        {
            if (Get<PaperBroker>().IsLoaded && Get<RiskBook>().IsReady && Get<Portal.Features.Limits.LimitStore>().Current is not null) return;
            await Task.Delay(50);
        }
        throw new TimeoutException("Portal did not become ready.");
    }

    /// <summary>An HTTP client carrying a new API key with the given scopes.</summary>
    public async Task<HttpClient> ClientWithScopesAsync(params string[] scopes)
    {
        var (key, _) = await Get<ApiKeyService>().CreateAsync("test-" + Guid.NewGuid().ToString("N")[..12], scopes);
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    private static string GenerateSigningKey()
    {
        using var signer = CheckpointSigner.Generate();
        return signer.ExportPrivateKeyPem();
    }

    public void SetPrice(string symbol, decimal price) =>
        Get<PriceBook>().Update(new PriceMark(symbol, price, Get<TimeProvider>().GetUtcNow(), 0m));
}
