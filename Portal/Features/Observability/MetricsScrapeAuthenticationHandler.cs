using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Portal.Features.Observability;

/// <summary>
/// Admits a scraper by where it connects from (<see cref="MetricsOptions.AllowedNetworks"/>) or by the
/// scrape token; anyone else gets a 401 problem. Used only by the <c>/metrics</c> policy, so a
/// person's cookie or an API key never reaches the metrics.
/// </summary>
public sealed class MetricsScrapeAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, IOptions<MetricsOptions> metrics)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "MetricsScrape";

    private readonly IReadOnlyList<IPNetwork> _networks = metrics.Value.Networks();
    private readonly byte[]? _token = metrics.Value.ScrapeToken is { } token ? Encoding.UTF8.GetBytes(token.Trim()) : null;

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (Context.Connection.RemoteIpAddress is { } address && FromAllowedNetwork(address)) return Task.FromResult(Admit("network:" + address));
        if (_token is not null && BearerToken() is { } presented && CryptographicOperations.FixedTimeEquals(presented, _token))
            return Task.FromResult(Admit("scrape-token"));
        return Task.FromResult(AuthenticateResult.NoResult());
    }

    private bool FromAllowedNetwork(IPAddress address)
    {
        // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d.
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        return _networks.Any(n => n.Contains(address));
    }

    private byte[]? BearerToken()
    {
        string? header = Request.Headers.Authorization;
        return header is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            ? Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim())
            : null;
    }

    private static AuthenticateResult Admit(string how) => AuthenticateResult.Success(new AuthenticationTicket(
        new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "metrics-scraper:" + how)], SchemeName)), SchemeName));

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Scraping not allowed",
            detail: "Metrics are served only to the configured networks (Metrics:AllowedNetworks) or with the scrape token as 'Authorization: Bearer <token>'.")
            .ExecuteAsync(Context);
    }
}
