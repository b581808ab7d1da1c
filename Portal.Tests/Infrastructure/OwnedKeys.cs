using System.Net.Http.Headers;
using Portal.Features.Auth;

namespace Portal.Tests.Infrastructure;

/// <summary>API keys that name the person answerable for them (needed, for example, to propose limit changes).</summary>
public static class OwnedKeys
{
    /// <summary>An HTTP client carrying a new API key with <paramref name="scopes"/>, owned by <paramref name="owner"/> (a user name).</summary>
    public static async Task<HttpClient> ClientWithOwnedKeyAsync(this PortalFactory portal, string owner, params string[] scopes)
    {
        var (key, _) = await portal.Get<ApiKeyService>().CreateAsync("owned-" + Guid.NewGuid().ToString("N")[..12], scopes, owner: owner);
        var client = portal.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }
}
