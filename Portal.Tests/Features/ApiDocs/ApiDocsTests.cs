using System.Net;
using System.Text.Json;
using Portal.Features.Auth;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.ApiDocs;

public sealed class ApiDocsTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;

    public async Task InitializeAsync() => _portal = await PortalFactory.StartAsync();

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task The_document_describes_the_machine_API_and_how_to_send_the_key()
    {
        using var client = await _portal.ClientWithScopesAsync(Scopes.Orders);

        var response = await client.GetAsync("/openapi/v1.json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var document = await response.JsonAsync();
        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        foreach (var path in new[] { "/api/orders", "/api/orders/{clientOrderId}", "/api/limits", "/api/limits/pending/{version}/approve",
                     "/api/emergency/stop", "/api/emergency/resume", "/api/trading-state", "/api/audit/verify" })
            Assert.Contains(path, paths);
        Assert.All(paths, p => Assert.StartsWith("/api/", p, StringComparison.Ordinal));

        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("ApiKey");
        Assert.Equal("http", scheme.GetProperty("type").GetString());
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());
        var submit = document.GetProperty("paths").GetProperty("/api/orders").GetProperty("post");
        Assert.Contains(submit.GetProperty("security").EnumerateArray(), r => r.TryGetProperty("ApiKey", out _));
        Assert.Contains("scope:orders", submit.GetProperty("description").GetString(), StringComparison.Ordinal);
        var publicKey = document.GetProperty("paths").GetProperty("/api/audit/public-key").GetProperty("get");
        Assert.False(publicKey.TryGetProperty("security", out _), "an anonymous endpoint must not claim to need a key");
    }
}
