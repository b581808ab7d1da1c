using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Portal.Features.Readiness;

/// <summary>
/// The HTTP client the drills use to call this very instance, so a drill goes through what a caller's request goes
/// through (listener, authentication, policy, endpoint), not a method call behind it.
/// </summary>
public static class ThisInstance
{
    public const string HttpClientName = "this-instance";

    public static IServiceCollection AddThisInstanceHttpClient(this IServiceCollection services)
    {
        services.AddHttpClient(HttpClientName, (sp, http) =>
        {
            // Left unset when the server listens nowhere yet; the drill then says so.
            if (Address(sp.GetRequiredService<IServer>()) is { } address) http.BaseAddress = address;
            http.Timeout = TimeSpan.FromSeconds(10);
        });
        return services;
    }

    /// <summary>The first address the server listens on (plain HTTP preferred), a wildcard host replaced by loopback.</summary>
    public static Uri? Address(IServer server)
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var chosen = addresses.OrderBy(a => a.StartsWith("https:", StringComparison.OrdinalIgnoreCase) ? 1 : 0).FirstOrDefault();
        if (chosen is null) return null;
        // Kestrel reports what it was told to bind: http://+:5080, http://*:5080, http://0.0.0.0:5080, http://[::]:5080.
        var uri = new UriBuilder(chosen.Replace("://+:", "://localhost:", StringComparison.Ordinal).Replace("://*:", "://localhost:", StringComparison.Ordinal));
        uri.Host = uri.Host switch { "0.0.0.0" => "127.0.0.1", "[::]" or "::" => "[::1]", var host => host };
        uri.Path = "/";
        return uri.Uri;
    }
}
