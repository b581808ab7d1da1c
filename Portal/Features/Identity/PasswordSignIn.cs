using Microsoft.AspNetCore.Identity;

namespace Portal.Features.Identity;

public enum SignInOutcome { Succeeded, Failed, LockedOut }

/// <summary>
/// Password sign-in for the sign-in page: locks the account after
/// <see cref="IdentitySetup.MaxFailedAttempts"/> failures, answers an unknown email exactly as a
/// wrong password (same reply, and a password hash is checked either way so the time taken does
/// not tell them apart), and records every attempt in the <see cref="ISecurityEventSink"/>.
/// </summary>
public sealed class PasswordSignIn(
    SignInManager<IdentityUser> signInManager, UserManager<IdentityUser> users, ISecurityEventSink sink, TimeProvider clock)
{
    public const string Method = "password";
    private static readonly Lazy<string> DummyHash = new(() =>
        new PasswordHasher<IdentityUser>().HashPassword(new IdentityUser(), PasswordGenerator.Generate()));

    public async Task<SignInOutcome> SignInAsync(string email, string password, HttpContext http)
    {
        email = email.Trim();
        var ip = http.Connection.RemoteIpAddress?.ToString();
        var ct = http.RequestAborted;
        var user = await users.FindByEmailAsync(email);
        if (user is null)
        {
            users.PasswordHasher.VerifyHashedPassword(new IdentityUser(), DummyHash.Value, password);
            await RecordAsync(SecurityEventKind.SignInFailed, null, email, ip, "unknown user", null, ct);
            return SignInOutcome.Failed;
        }

        var lockedBefore = await users.IsLockedOutAsync(user);
        var result = await signInManager.PasswordSignInAsync(user, password, isPersistent: false, lockoutOnFailure: true);
        if (result.Succeeded)
        {
            await RecordAsync(SecurityEventKind.SignInSucceeded, user.Id, email, ip, null, [.. await users.GetRolesAsync(user)], ct);
            return SignInOutcome.Succeeded;
        }
        if (result.IsLockedOut)
        {
            await RecordAsync(SecurityEventKind.SignInFailed, user.Id, email, ip, lockedBefore ? "locked out" : "wrong password", null, ct);
            if (!lockedBefore)
                await RecordAsync(SecurityEventKind.LockedOut, user.Id, email, ip,
                    $"{IdentitySetup.MaxFailedAttempts} failed attempts; locked until {await users.GetLockoutEndDateAsync(user):O}", null, ct);
            return SignInOutcome.LockedOut;
        }
        await RecordAsync(SecurityEventKind.SignInFailed, user.Id, email, ip, result.IsNotAllowed ? "not allowed" : "wrong password", null, ct);
        return SignInOutcome.Failed;
    }

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
