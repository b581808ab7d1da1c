using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Portal.Domain.Audit;
using Portal.Domain.MarketData;
using Portal.Features.Auth;
using Portal.Features.Broker;
using Portal.Features.Halt;
using Portal.Features.MarketData;
using Portal.Features.Readiness;
using Portal.Features.Risk;

namespace Portal.Tests.Infrastructure;

/// <summary>
/// Portal in process on real Postgres (its own database) and real Redis (its own key prefix).
/// Create with <see cref="StartAsync"/>; settings override configuration for one test's needs.
/// </summary>
public sealed class PortalFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IWebHostBuilder>? _configure;

    /// <summary>One audit signing key for the whole run, as a deployment has one.</summary>
    public static readonly string AuditSigningKeyPem = GenerateSigningKey();

    /// <summary>One certificate encrypting the data-protection key ring for the whole run (instances of a deployment share it).</summary>
    public static readonly string DataProtectionCertificatePem = GenerateDataProtectionCertificate();

    private readonly bool _realServer;

    private PortalFactory(Dictionary<string, string?> settings, Action<IWebHostBuilder>? configure, bool realServer)
    {
        _settings = settings;
        _configure = configure;
        _realServer = realServer;
    }

    /// <summary>Set when started with a real Kestrel listener (for a browser): http://127.0.0.1:PORT/.</summary>
    public Uri? RealAddress { get; private set; }

    public string AppConnectionString => _settings["ConnectionStrings:Postgres"]!;
    public string OwnerConnectionString => _settings["ConnectionStrings:PostgresMigrations"]!;
    public string CheckpointFile => _settings["Audit:CheckpointFile"]!;
    /// <summary>The Redis this instance uses and its key prefix, for tests acting as something else on the Redis network.</summary>
    public string RedisConnectionString => _settings["ConnectionStrings:Redis"]!;
    public string RedisKeyPrefix => _settings["Redis:KeyPrefix"]!;

    /// <param name="configure">Optional extra host setup, e.g. replacing a service with a test double.</param>
    public static async Task<PortalFactory> StartAsync(IReadOnlyDictionary<string, string?>? overrides = null, string? redisConnection = null,
        Action<IWebHostBuilder>? configure = null) =>
        await StartWithAsync(await NewSettingsAsync(overrides, redisConnection), configure);

    /// <summary>Portal on a real loopback port, for a browser (the in-memory test server has no socket).</summary>
    public static async Task<PortalFactory> StartRealServerAsync(IReadOnlyDictionary<string, string?>? overrides = null, Action<IWebHostBuilder>? configure = null) =>
        await StartWithAsync(await NewSettingsAsync(overrides, null), configure, realServer: true);

    /// <summary>A fresh database and Redis key prefix, plus the test's overrides.</summary>
    private static async Task<Dictionary<string, string?>> NewSettingsAsync(IReadOnlyDictionary<string, string?>? overrides, string? redisConnection)
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
            // Tests set prices by hand; only the market-data test wants the feed's silence noticed.
            ["TradingState:MarketDataSilenceThreshold"] = "01:00:00",
            ["TradingState:SilenceHaltThreshold"] = "02:00:00",
            ["Audit:SigningKeyPem"] = AuditSigningKeyPem,
            ["DataProtection:CertificatePem"] = DataProtectionCertificatePem,
            ["Audit:CheckpointFile"] = Path.Combine(Path.GetTempPath(), "portal-tests", $"checkpoints-{Guid.NewGuid():N}.jsonl"),
            // Hangfire is process-global: no job server in tests; jobs are called directly.
            ["Hangfire:ServerEnabled"] = "false",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>()) settings[key] = value;
        return settings;
    }

    /// <summary>A second Portal instance sharing this one's database and Redis, as in a multi-instance deployment.</summary>
    /// <param name="waitUntilReady">False to start a peer that cannot be ready yet (its Redis is down).</param>
    public Task<PortalFactory> StartPeerAsync(bool realServer = false, IReadOnlyDictionary<string, string?>? overrides = null, bool waitUntilReady = true)
    {
        var settings = new Dictionary<string, string?>(_settings);
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>()) settings[key] = value;
        return StartWithAsync(settings, _configure, realServer, waitUntilReady);
    }

    private static async Task<PortalFactory> StartWithAsync(Dictionary<string, string?> settings, Action<IWebHostBuilder>? configure, bool realServer = false,
        bool waitUntilReady = true)
    {
        var factory = new PortalFactory(settings, configure, realServer);
        if (realServer)
        {
            factory.UseKestrel(o => o.Listen(System.Net.IPAddress.Loopback, 0));
            factory.StartServer();
            var addresses = factory.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
                .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses;
            factory.RealAddress = new Uri(addresses.First().Replace("[::1]", "127.0.0.1", StringComparison.Ordinal) + "/");
        }
        else _ = factory.Server; // start the in-memory host
        if (waitUntilReady) await factory.WaitUntilReadyAsync();
        return factory;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Test");
        // Package assets (MudBlazor's CSS and JS) are served from the NuGet cache outside Development only when asked.
        builder.UseStaticWebAssets();
        foreach (var (key, value) in _settings) builder.UseSetting(key, value);
        if (!_realServer)
            // The in-memory server has no socket: the drills' calls to this instance go through its handler instead.
            builder.ConfigureServices(services => services.AddHttpClient(ThisInstance.HttpClientName)
                .ConfigurePrimaryHttpMessageHandler(() => Server.CreateHandler())
                .ConfigureHttpClient(http => http.BaseAddress ??= Server.BaseAddress));
        _configure?.Invoke(builder);
    }

    /// <summary>For <c>configure</c>: the singleton <typeparamref name="T"/> stays (others depend on it) but never runs.</summary>
    public static void WithoutBackgroundService<T>(IWebHostBuilder builder) where T : IHostedService =>
        builder.ConfigureServices(services =>
        {
            foreach (var hosted in services.Where(d => d.ServiceType == typeof(IHostedService)
                         && (d.ImplementationType == typeof(T) || d.ImplementationFactory?.Method.ReturnType == typeof(T))).ToList())
                services.Remove(hosted);
        });

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    /// <summary>
    /// Orders are refused until the paper broker (when it is the broker), limits and risk view are loaded and safe mode has
    /// cleared; a silent feed does not count, since tests set prices themselves after start.
    /// </summary>
    public async Task WaitUntilReadyAsync()
    {
        for (var i = 0; i < 200; i++)
        {
            if (Services.GetService<PaperBroker>() is not { IsLoaded: false } && Get<RiskBook>().IsReady && Get<Portal.Features.Limits.LimitStore>().Current is not null
                && Get<SafeModeMonitor>().Active.Keys.All(cause => cause == SafeModeMonitor.MarketDataSilent)) return;
            await Task.Delay(50);
        }
        throw new TimeoutException($"Portal did not become ready (safe mode: {Get<SafeModeMonitor>().Reason}).");
    }

    /// <summary>An HTTP client carrying a new API key with the given scopes, allowed every strategy not reserved to Portal ('*').</summary>
    public Task<HttpClient> ClientWithScopesAsync(params string[] scopes) => ClientWithKeyAsync(scopes, [StrategyGrants.AllOpen]);

    /// <summary>An HTTP client carrying a new API key with the given scopes and strategies it may trade.</summary>
    public async Task<HttpClient> ClientWithKeyAsync(string[] scopes, string[] strategies)
    {
        var (key, _) = await Get<ApiKeyService>().CreateAsync("test-" + Guid.NewGuid().ToString("N")[..12], scopes, strategies: strategies);
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    private static string GenerateDataProtectionCertificate()
    {
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=Portal tests data protection", rsa,
            System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return certificate.ExportCertificatePem() + "\n" + rsa.ExportPkcs8PrivateKeyPem();
    }

    private static string GenerateSigningKey()
    {
        using var signer = CheckpointSigner.Generate();
        return signer.ExportPrivateKeyPem();
    }

    /// <summary>
    /// A fresh valid price through the market-data ingest, as a feed would send it. The symbol's history is
    /// reset first, so a test may jump to any price without tripping the jump or spike checks.
    /// </summary>
    public void SetPrice(string symbol, decimal price)
    {
        var ingest = Get<MarketDataIngest>();
        ingest.Reset(symbol, "test");
        var verdict = ingest.Ingest([new Tick(symbol, price, null, null, null, Get<TimeProvider>().GetUtcNow())], "test")[0];
        if (!verdict.Accepted) throw new InvalidOperationException($"Test price {price} for {symbol} was refused: {verdict.Detail}");
    }
}
