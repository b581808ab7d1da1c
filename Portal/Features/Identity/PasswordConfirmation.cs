using Microsoft.AspNetCore.Identity;

namespace Portal.Features.Identity;

public enum PasswordCheck { Confirmed, Wrong, Throttled }

/// <summary>
/// A signed-in person giving their password again before a change that outlives the session (a new password, a passkey):
/// whoever holds a session (an unlocked laptop, a stolen cookie) must not make it. A wrong password counts against the
/// sign-in throttle and is a <see cref="SecurityEventKind.PasswordConfirmationFailed"/> event, so a session cannot be used to guess it.
/// </summary>
public sealed class PasswordConfirmation(UserManager<IdentityUser> users, SignInThrottle throttle, ISecurityEventSink sink, TimeProvider clock)
{
    /// <param name="method">How the person is acting ("password", "passkey"), as security events name it.</param>
    /// <param name="purpose">What the password is asked for, e.g. "to add a passkey".</param>
    public async Task<PasswordCheck> CheckAsync(IdentityUser user, string password, string? remoteIp, string method, string purpose, CancellationToken ct)
    {
        var subject = user.Email ?? user.UserName ?? user.Id;
        if (await throttle.IsThrottledAsync(subject, remoteIp)) return PasswordCheck.Throttled;
        if (await users.CheckPasswordAsync(user, password)) return PasswordCheck.Confirmed;
        await throttle.RecordFailureAsync(subject, remoteIp);
        await sink.RecordAsync(new SecurityEvent(SecurityEventKind.PasswordConfirmationFailed, clock.GetUtcNow(), user.Id, subject, method, remoteIp, purpose), ct);
        return PasswordCheck.Wrong;
    }
}
