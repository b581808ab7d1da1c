using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Portal.Features.Identity;

/// <summary>
/// The sign-in page itself is a static server-rendered component (Pages/Login.razor): a cookie can
/// only be set on a plain HTTP response, never from inside an interactive circuit. These endpoints
/// are the rest: sign-out (POST with antiforgery), who-am-I for pages and scripts, and the single
/// sign-on round trip when it is configured.
/// </summary>
public static class AccountEndpoints
{
    public sealed record Me(string? UserId, string? UserName, IReadOnlyList<string> Roles);

    public static IEndpointRouteBuilder MapPortalIdentity(this IEndpointRouteBuilder app)
    {
        var account = app.MapGroup("/account").WithTags("Account");
        account.MapPost("/logout", SignOutAsync)
            .WithMetadata(new RequireAntiforgeryTokenAttribute())
            .AllowAnonymous();

        app.MapGet("/api/account/me", (ClaimsPrincipal user, UserManager<IdentityUser> users) => TypedResults.Ok(new Me(
                users.GetUserId(user), user.Identity?.Name,
                user.FindAll(ClaimTypes.Role).Select(c => c.Value).Order(StringComparer.Ordinal).ToList())))
            .WithTags("Account")
            .RequireAuthorization(Policies.AnyStaff);
        app.MapPasskeys();

        if (app.ServiceProvider.GetRequiredService<IOptions<OidcOptions>>().Value.Enabled)
        {
            account.MapPost("/login/external", ChallengeExternal)
                .WithMetadata(new RequireAntiforgeryTokenAttribute())
                .AllowAnonymous();
            account.MapGet("/login/external/callback", ExternalCallbackAsync).AllowAnonymous();
        }
        return app;
    }

    private static async Task<IResult> SignOutAsync(PasswordSignIn signIn, HttpContext http)
    {
        if (!AntiforgeryPassed(http)) return AntiforgeryFailed();
        await signIn.SignOutAsync(http);
        return Results.LocalRedirect(IdentitySetup.LoginPath + "?signedOut=1");
    }

    private static IResult ChallengeExternal([FromForm] string? returnUrl, SignInManager<IdentityUser> signInManager, HttpContext http)
    {
        if (!AntiforgeryPassed(http)) return AntiforgeryFailed();
        var callback = "/account/login/external/callback?returnUrl=" + Uri.EscapeDataString(LocalUrl.OrRoot(returnUrl));
        var properties = signInManager.ConfigureExternalAuthenticationProperties(OidcOptions.Scheme, callback);
        return Results.Challenge(properties, [OidcOptions.Scheme]);
    }

    /// <summary>
    /// UseAntiforgery checks the token of every endpoint marked <see cref="RequireAntiforgeryTokenAttribute"/>
    /// but leaves rejecting to whoever reads the form; these endpoints read no form, so they reject here.
    /// No verdict at all (middleware missing) counts as a failure.
    /// </summary>
    private static bool AntiforgeryPassed(HttpContext http) => http.Features.Get<IAntiforgeryValidationFeature>() is { IsValid: true };

    private static IResult AntiforgeryFailed() => Results.Problem(statusCode: StatusCodes.Status400BadRequest,
        title: "Antiforgery token missing or invalid", detail: "Submit the form from a Portal page.");

    private static async Task<IResult> ExternalCallbackAsync(string? returnUrl, SignInManager<IdentityUser> signInManager, ExternalSignIn external, HttpContext http)
    {
        var info = await signInManager.GetExternalLoginInfoAsync();
        if (info is null) return Results.LocalRedirect(IdentitySetup.LoginPath + "?error=sso");
        var outcome = await external.SignInAsync(info, http);
        await http.SignOutAsync(IdentityConstants.ExternalScheme);
        if (outcome.User is null) return Results.LocalRedirect(IdentitySetup.LoginPath + "?error=sso");
        // We arrive here by the provider's cross-site redirect, on which the browser withholds the new
        // SameSite=Strict cookie; a navigation started by this page is same-site, so it carries it.
        var target = HtmlEncoder.Default.Encode(LocalUrl.OrRoot(returnUrl));
        return Results.Content(
            $"""<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={target}"><title>Signed in</title></head><body><a href="{target}">Continue</a></body></html>""",
            "text/html");
    }
}
