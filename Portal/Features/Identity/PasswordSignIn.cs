using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Portal.Features.Identity;

public enum SignInOutcome { Succeeded, Failed, Throttled }

/// <summary>
/// Password sign-in for the sign-in page: slows guessing down with <see cref="SignInThrottle"/> (seconds of backoff per
/// account and per address, never Identity's lockout, which an attacker could keep renewing for every officer), answers
/// an unknown email exactly as a wrong password (same reply, same throttle, and a password hash is checked either way so
/// the time taken does not tell them apart), and records every attempt in the <see cref="ISecurityEventSink"/>.
/// </summary>
public sealed class PasswordSignIn(
    SignInManager<IdentityUser> signInManager, UserManager<IdentityUser> users, SignInThrottle throttle, ISecurityEventSink sink, TimeProvider clock,
    IOptions<SignInThrottleOptions> options)
{
    public const string Method = "password";
    private static readonly Lazy<string> DummyHash = new(() =>
        new PasswordHasher<IdentityUser>().HashPassword(new IdentityUser(), PasswordGenerator.Generate()));

    /// <param name="rememberDevice">A cookie that outlives the browser for <see cref="SignInThrottleOptions.RememberDeviceFor"/>; else one that dies with it.</param>
    public async Task<SignInOutcome> SignInAsync(string email, string password, bool rememberDevice, HttpContext http)
    {
        email = email.Trim();
        var ip = http.Connection.RemoteIpAddress?.ToString();
        var ct = http.RequestAborted;
        // Decided before the account is looked up, so a throttled reply is the same whether it exists or not.
        if (await throttle.IsThrottledAsync(email, ip))
        {
            await RecordAsync(SecurityEventKind.SignInFailed, null, email, ip, "throttled", null, ct);
            return SignInOutcome.Throttled;
        }
        var user = await users.FindByEmailAsync(email);
        if (user is null)
        {
            users.PasswordHasher.VerifyHashedPassword(new IdentityUser(), DummyHash.Value, password);
            await throttle.RecordFailureAsync(email, ip);
            await RecordAsync(SecurityEventKind.SignInFailed, null, email, ip, "unknown user", null, ct);
            return SignInOutcome.Failed;
        }

        var result = await signInManager.CheckPasswordSignInAsync(user, password, lockoutOnFailure: false);
        if (result.Succeeded)
        {
            await signInManager.SignInWithClaimsAsync(user, SessionProperties(rememberDevice, clock, options.Value), [new("amr", "pwd")]);
            await throttle.RecordSuccessAsync(email);
            await RecordAsync(SecurityEventKind.SignInSucceeded, user.Id, email, ip, null, [.. await users.GetRolesAsync(user)], ct);
            return SignInOutcome.Succeeded;
        }
        await throttle.RecordFailureAsync(email, ip);
        // An account an Admin locked answers as a wrong password: the reply never tells an account's state.
        await RecordAsync(SecurityEventKind.SignInFailed, user.Id, email, ip,
            result.IsLockedOut ? "locked out" : result.IsNotAllowed ? "not allowed" : "wrong password", null, ct);
        return SignInOutcome.Failed;
    }

    /// <summary>
    /// The sign-in cookie's properties: with <paramref name="rememberDevice"/> one that outlives the browser for
    /// <see cref="SignInThrottleOptions.RememberDeviceFor"/> (the ticket's own lifetime, not the cookie options' session
    /// lifetime: sliding renewal keeps that span), else one that dies with the browser. Shared by every way of signing in.
    /// </summary>
    internal static AuthenticationProperties SessionProperties(bool rememberDevice, TimeProvider clock, SignInThrottleOptions options) => rememberDevice
        ? new AuthenticationProperties { IsPersistent = true, ExpiresUtc = clock.GetUtcNow() + options.RememberDeviceFor }
        : new AuthenticationProperties { IsPersistent = false };

    public async Task SignOutAsync(HttpContext http)
    {
        var user = http.User;
        if (user.Identity?.IsAuthenticated == true && user.Identity.AuthenticationType == IdentityConstants.ApplicationScheme)
            await RecordAsync(SecurityEventKind.SignedOut, users.GetUserId(user), user.Identity.Name ?? "", http.Connection.RemoteIpAddress?.ToString(),
                null, null, http.RequestAborted);
        await signInManager.SignOutAsync();
    }

    private ValueTask RecordAsync(SecurityEventKind kind, string? userId, string subject, string? ip, string? reason,
        IReadOnlyList<string>? roles, CancellationToken ct) =>
        sink.RecordAsync(new SecurityEvent(kind, clock.GetUtcNow(), userId, subject, Method, ip, reason, roles), ct);
}
