using System.Data.Common;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Portal.Features.Auth;

/// <summary>Authenticates <c>Authorization: Bearer &lt;key&gt;</c>; each scope of the key becomes a "scope" claim, each strategy it may trade a "strategy" claim.</summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyService keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string ScopeClaim = "scope";

    /// <summary>The key's owner (a person's user name), when it has one: four-eyes treats the key's changes as theirs.</summary>
    public const string OwnerClaim = "key_owner";
    private const string KeyStoreUnavailable = "ApiKeyStoreUnavailable";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        string token;
        if (!string.IsNullOrEmpty(header))
        {
            if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return AuthenticateResult.Fail("Expected a Bearer token.");
            token = header["Bearer ".Length..].Trim();
        }
        // Browsers cannot set headers on WebSocket and server-sent-event connections; SignalR sends the token in the query.
        else if (Request.Path.StartsWithSegments("/hubs") && Request.Query["access_token"] is [{ Length: > 0 } queryToken]) token = queryToken;
        else return AuthenticateResult.NoResult();
        ApiKey? key;
        try
        {
            key = await keys.ValidateAsync(token, Context.RequestAborted);
        }
        catch (Exception ex) when (ex is DbException or TimeoutException || ex.InnerException is DbException or TimeoutException)
        {
            // A key not in the cache cannot be checked while Postgres is down: a 503 the caller retries, not a 500 nor a 401.
            Logger.LogWarning("API key could not be checked: {Error}", ex.GetBaseException().Message);
            Context.Items[KeyStoreUnavailable] = true;
            return AuthenticateResult.Fail("API keys cannot be checked right now.");
        }
        if (key is null) return AuthenticateResult.Fail("Unknown or revoked API key.");

        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, "apikey:" + key.Id),
            new(ClaimTypes.Name, "apikey:" + key.Name),
        };
        claims.AddRange(key.Scopes.Select(s => new Claim(ScopeClaim, s)));
        if (key.Owner is { } owner) claims.Add(new Claim(OwnerClaim, owner));
        claims.AddRange((key.Strategies ?? []).Select(s => new Claim(StrategyGrants.ClaimType, s)));
        var identity = new ClaimsIdentity(claims, SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (!Context.Items.ContainsKey(KeyStoreUnavailable))
            return WriteProblemAsync(StatusCodes.Status401Unauthorized, "Authentication required", "Send a valid API key as 'Authorization: Bearer <key>'.");
        Response.Headers.RetryAfter = "1";
        return WriteProblemAsync(StatusCodes.Status503ServiceUnavailable, "API key not checked",
            "The API key could not be checked because the database is unreachable; retry shortly.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        WriteProblemAsync(StatusCodes.Status403Forbidden, "Forbidden", "The API key does not have the scope this endpoint requires.");

    private Task WriteProblemAsync(int status, string title, string detail)
    {
        Response.StatusCode = status;
        if (status == StatusCodes.Status401Unauthorized) Response.Headers.WWWAuthenticate = "Bearer";
        return Results.Problem(statusCode: status, title: title, detail: detail).ExecuteAsync(Context);
    }
}
