using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;

namespace Portal.Features.Identity;

/// <summary>
/// Passkeys over HTTP, for wwwroot/js/passkeys.js on the account and sign-in pages (the WebAuthn calls happen in the
/// browser). Every write carries the page's antiforgery token in the <c>RequestVerificationToken</c> header, as the
/// sign-in and sign-out forms carry theirs; a person manages only their own passkeys (<see cref="Policies.AnyStaff"/>),
/// and the two sign-in steps are anonymous and throttled (<see cref="PasskeyAccounts.SignInAsync"/>). Every refusal is
/// RFC 7807 problem details; a 400 names the bad field under <c>errors</c>.
/// </summary>
public static class PasskeyEndpoints
{
    public const string Prefix = "/api/account/passkeys";

    /// <summary>The account's password, asked again before a passkey is added.</summary>
    public sealed record CreationOptionsRequest(string? Password);

    public sealed record RegisterRequest(string? CredentialJson, string? Name);

    public sealed record RenameRequest(string? Name);

    public sealed record SignInRequest(string? CredentialJson, bool RememberDevice, string? ReturnUrl);

    /// <summary>Where the browser goes next (a local URL) and who is now signed in.</summary>
    public sealed record SignInReply(string Redirect, string UserName);

    public static IEndpointRouteBuilder MapPasskeys(this IEndpointRouteBuilder app)
    {
        var passkeys = app.MapGroup(Prefix).WithTags("Account");
        passkeys.MapGet("", ListAsync).RequireAuthorization(Policies.AnyStaff);
        passkeys.MapPost("/creation-options", CreationOptionsAsync).RequireAuthorization(Policies.AnyStaff).WithMetadata(new RequireAntiforgeryTokenAttribute());
        passkeys.MapPost("", RegisterAsync).RequireAuthorization(Policies.AnyStaff).WithMetadata(new RequireAntiforgeryTokenAttribute());
        passkeys.MapPatch("/{id}", RenameAsync).RequireAuthorization(Policies.AnyStaff).WithMetadata(new RequireAntiforgeryTokenAttribute());
        passkeys.MapDelete("/{id}", RemoveAsync).RequireAuthorization(Policies.AnyStaff).WithMetadata(new RequireAntiforgeryTokenAttribute());
        passkeys.MapPost("/request-options", RequestOptionsAsync).AllowAnonymous().WithMetadata(new RequireAntiforgeryTokenAttribute());
        passkeys.MapPost("/sign-in", SignInAsync).AllowAnonymous().WithMetadata(new RequireAntiforgeryTokenAttribute());
        return app;
    }

    private static async Task<IResult> ListAsync(HttpContext http, UserManager<IdentityUser> users, PasskeyAccounts passkeys) =>
        await users.GetUserAsync(http.User) is { } user ? TypedResults.Ok(await passkeys.ListAsync(user)) : UserGone();

    private static async Task<IResult> CreationOptionsAsync(CreationOptionsRequest? request, HttpContext http, UserManager<IdentityUser> users,
        PasskeyAccounts passkeys)
    {
        if (!await AntiforgeryPassedAsync(http)) return AntiforgeryFailed();
        if (await users.GetUserAsync(http.User) is not { } user) return UserGone();
        var options = await passkeys.CreationOptionsAsync(user, request?.Password, http);
        return options.Succeeded ? Json(options.Value!) : Refusal(options);
    }

    private static async Task<IResult> RegisterAsync(RegisterRequest? request, HttpContext http, UserManager<IdentityUser> users, PasskeyAccounts passkeys)
    {
        if (!await AntiforgeryPassedAsync(http)) return AntiforgeryFailed();
        if (await users.GetUserAsync(http.User) is not { } user) return UserGone();
        var outcome = await passkeys.RegisterAsync(user, request?.CredentialJson, request?.Name, http);
        return outcome.Succeeded ? TypedResults.Created($"{Prefix}/{outcome.Value!.Id}", outcome.Value) : Refusal(outcome);
    }

    private static async Task<IResult> RenameAsync(string id, RenameRequest? request, HttpContext http, UserManager<IdentityUser> users, PasskeyAccounts passkeys)
    {
        if (!await AntiforgeryPassedAsync(http)) return AntiforgeryFailed();
        if (await users.GetUserAsync(http.User) is not { } user) return UserGone();
        var outcome = await passkeys.RenameAsync(user, id, request?.Name, http);
        return outcome.Succeeded ? TypedResults.Ok(outcome.Value) : Refusal(outcome);
    }

    private static async Task<IResult> RemoveAsync(string id, HttpContext http, UserManager<IdentityUser> users, PasskeyAccounts passkeys)
    {
        if (!await AntiforgeryPassedAsync(http)) return AntiforgeryFailed();
        if (await users.GetUserAsync(http.User) is not { } user) return UserGone();
        var outcome = await passkeys.RemoveAsync(user, id, http);
        return outcome.Succeeded ? TypedResults.NoContent() : Refusal(outcome);
    }

    private static async Task<IResult> RequestOptionsAsync(HttpContext http, PasskeyAccounts passkeys)
    {
        if (!await AntiforgeryPassedAsync(http)) return AntiforgeryFailed();
        return Json(await passkeys.RequestOptionsAsync());
    }

    private static async Task<IResult> SignInAsync(SignInRequest? request, HttpContext http, PasskeyAccounts passkeys)
    {
        if (!await AntiforgeryPassedAsync(http)) return AntiforgeryFailed();
        if (PasskeyAccounts.CheckCredentialJson(request?.CredentialJson) is { } invalid) return Invalid("credentialJson", invalid);
        var (outcome, user) = await passkeys.SignInAsync(request!.CredentialJson!, request.RememberDevice, http);
        return outcome switch
        {
            SignInOutcome.Succeeded => TypedResults.Ok(new SignInReply(LocalUrl.OrRoot(request.ReturnUrl), user!.UserName ?? "")),
            SignInOutcome.Throttled => TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many failed sign-ins",
                detail: SignInThrottle.WaitMessage),
            _ => TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Passkey not accepted",
                detail: "This passkey did not sign you in. Use another passkey or your password."),
        };
    }

    /// <summary>
    /// UseAntiforgery checks the token of POST, PUT and PATCH requests to endpoints marked
    /// <see cref="RequireAntiforgeryTokenAttribute"/> and leaves the verdict; it skips DELETE, which is checked here.
    /// </summary>
    private static async Task<bool> AntiforgeryPassedAsync(HttpContext http) =>
        http.Features.Get<IAntiforgeryValidationFeature>() is { } verdict
            ? verdict.IsValid
            : await http.RequestServices.GetRequiredService<IAntiforgery>().IsRequestValidAsync(http);

    private static ProblemHttpResult AntiforgeryFailed() => TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest,
        title: "Antiforgery token missing or invalid", detail: "Send the page's token in the RequestVerificationToken header, from a Portal page.");

    private static ContentHttpResult Json(string json) => TypedResults.Text(json, "application/json");

    private static ProblemHttpResult UserGone() => TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized,
        title: "Your user no longer exists", detail: "Sign in again.");

    private static ProblemHttpResult Conflict(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Passkey refused", detail: detail);

    private static ValidationProblem Invalid(string field, string error) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [error] }, title: "Invalid passkey request");

    private static IResult Refusal<T>(PasskeyOutcome<T> outcome) =>
        outcome.NotFound ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such passkey", detail: "You have no passkey with this id.")
        : outcome.Throttled ? TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many wrong passwords", detail: outcome.Error)
        : outcome.Field is { } field ? Invalid(field, outcome.Error!)
        : Conflict(outcome.Error!);
}
