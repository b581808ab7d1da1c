using Microsoft.AspNetCore.Antiforgery;
using Microsoft.Net.Http.Headers;

namespace Portal.Features.Identity;

/// <summary>
/// Cross-site request forgery defence for the API's writes that the sign-in cookie authenticates. The cookie is
/// SameSite=Strict, which stops other sites but not a same-site page (another subdomain, a compromised internal tool),
/// and a form or <c>text/plain</c> post needs no CORS preflight. So a cookie-carrying POST/PUT/PATCH/DELETE under
/// <c>/api</c> must come from Portal's own origin (<c>Origin</c>, or <c>Sec-Fetch-Site: same-origin</c> when a browser
/// sends no Origin) or carry a valid antiforgery header, and any body must be <c>application/json</c>; otherwise 403
/// problem details before anything runs. Requests with an <c>Authorization</c> header are API keys, which a browser
/// never attaches by itself: they are not checked. Blazor pages call services in-process, never these endpoints.
/// </summary>
public static class CookieApiWriteGuard
{
    public const string AntiforgeryHeader = "RequestVerificationToken";

    public static IApplicationBuilder UseCookieApiWriteGuard(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (Applies(context.Request) && await RefusalAsync(context) is { } refusal)
        {
            await Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Cross-site request refused", detail: refusal)
                .ExecuteAsync(context);
            return;
        }
        await next(context);
    });

    private static bool Applies(HttpRequest request) =>
        request.Path.StartsWithSegments("/api")
        && !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method) || HttpMethods.IsTrace(request.Method))
        && request.Headers.Authorization.Count == 0
        && request.Cookies.ContainsKey(IdentitySetup.CookieName);

    private static async Task<string?> RefusalAsync(HttpContext context)
    {
        var request = context.Request;
        var hasBody = request.ContentLength > 0 || request.ContentType is not null || request.Headers.TransferEncoding.Count > 0;
        if (hasBody && !(MediaTypeHeaderValue.TryParse(request.ContentType, out var type) && type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)))
            return "A write with the sign-in cookie must send its body as application/json.";
        if (IsSameOrigin(request)) return null;
        if (request.Headers.ContainsKey(AntiforgeryHeader) && await context.RequestServices.GetRequiredService<IAntiforgery>().IsRequestValidAsync(context))
            return null;
        return "A write with the sign-in cookie must come from a Portal page (same Origin) or carry an antiforgery header.";
    }

    private static bool IsSameOrigin(HttpRequest request)
    {
        var ownOrigin = request.Scheme + "://" + request.Host.Value;
        if (request.Headers.Origin is [{ } origin]) return string.Equals(origin, ownOrigin, StringComparison.OrdinalIgnoreCase);
        if (request.Headers.Origin.Count > 1) return false;
        return request.Headers["Sec-Fetch-Site"] is [{ } site] && site == "same-origin";
    }
}
