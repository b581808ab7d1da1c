using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Portal.Domain.Audit;
using Microsoft.Extensions.DependencyInjection;
using Portal.Features.Witness;

namespace Portal.Tests.Infrastructure;

/// <summary>A real witness (<c>dotnet Portal.dll witness</c>'s app) on a free loopback port, with its own key and state file, watching the test logs' origin.</summary>
public sealed class TestWitness : IAsyncDisposable
{
    public const string Name = "witness.test/portal";
    public const string Origin = "portal.local/audit";

    private readonly WebApplication _app;
    private readonly HttpClient _http;

    private TestWitness(WebApplication app, string url, string directory, string publicKeyPem)
    {
        _app = app;
        Url = url;
        Directory = directory;
        PublicKeyPem = publicKeyPem;
        _http = new HttpClient { BaseAddress = new Uri(url) };
    }

    public string Url { get; }

    /// <summary>Holds the witness's key and state file; a restarted witness on the same directory remembers what it cosigned.</summary>
    public string Directory { get; }

    public string PublicKeyPem { get; }

    public HttpClient Http => _http;

    /// <summary>What Portal needs to use this witness.</summary>
    public Dictionary<string, string?> PortalSettings => new()
    {
        ["Audit:Witness:Url"] = Url,
        ["Audit:Witness:Name"] = Name,
        ["Audit:Witness:PublicKeyPem"] = PublicKeyPem,
    };

    public static async Task<TestWitness> StartAsync(string? directory = null, string? logPublicKeyPem = null)
    {
        directory ??= System.IO.Directory.CreateTempSubdirectory("witness-").FullName;
        var keyPath = Path.Combine(directory, "witness-key.pem");
        if (!File.Exists(keyPath))
        {
            using var generated = CheckpointSigner.Generate();
            await File.WriteAllTextAsync(keyPath, generated.ExportPrivateKeyPem());
        }
        using var key = CheckpointSigner.FromPrivateKeyPem(await File.ReadAllTextAsync(keyPath));
        using var log = CheckpointSigner.FromPrivateKeyPem(PortalFactory.AuditSigningKeyPem);
        var app = WitnessServer.Build(
        [
            "--urls", "http://127.0.0.1:0",
            "--Witness:Name", Name,
            "--Witness:SigningKeyPath", keyPath,
            "--Witness:StateFile", Path.Combine(directory, "cosigned.jsonl"),
            "--Witness:Logs:0:Origin", Origin,
            "--Witness:Logs:0:PublicKeyPem", logPublicKeyPem ?? log.ExportPublicKeyPem(),
        ]);
        await app.StartAsync();
        var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new TestWitness(app, url, directory, key.ExportPublicKeyPem());
    }

    public async Task<IReadOnlyList<CosignedCheckpoint>> CosignedAsync() =>
        (await _http.GetFromJsonAsync<List<CosignedCheckpoint>>("/cosigned?origin=" + Uri.EscapeDataString(Origin)))!;

    public async Task<long> CosignedSizeAsync() => (await CosignedAsync()).Select(c => c.Size).DefaultIfEmpty(0).Max();

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
