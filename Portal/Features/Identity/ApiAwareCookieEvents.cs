using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;

namespace Portal.Features.Identity;

/// <summary>
/// The sign-in cookie redirects browsers to the sign-in or access-denied page, but a request for
/// an API or hub gets a 401 or 403 problem-details reply instead: a redirect to an HTML page is
/// never a useful answer to a program.
/// </summary>
public static class ApiAwareCookieEvents
{
    public static bool IsApiRequest(HttpRequest request) =>
        request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase)
        || request.Path.StartsWithSegments("/hubs", StringComparison.OrdinalIgnoreCase);

    public static void Apply(CookieAuthenticationEvents events)
    {
        var toLogin = events.OnRedirectToLogin;
        var toAccessDenied = events.OnRedirectToAccessDenied;
        events.OnRedirectToLogin = context => IsApiRequest(context.Request)
            ? WriteProblemAsync(context, StatusCodes.Status401Unauthorized, "Authentication required",
                "Sign in, or send an API key as 'Authorization: Bearer <key>'.")
            : toLogin(context);
        events.OnRedirectToAccessDenied = context => IsApiRequest(context.Request)
            ? WriteProblemAsync(context, StatusCodes.Status403Forbidden, "Forbidden", "Your role does not allow this request.")
            : toAccessDenied(context);
    }

    private static Task WriteProblemAsync(RedirectContext<CookieAuthenticationOptions> context, int status, string title, string detail)
    {
        if (context.Response.HasStarted) return Task.CompletedTask;
        context.Response.StatusCode = status;
        return Results.Problem(statusCode: status, title: title, detail: detail).ExecuteAsync(context.HttpContext);
    }
}
