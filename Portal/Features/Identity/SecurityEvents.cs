namespace Portal.Features.Identity;

public enum SecurityEventKind
{
    SignInSucceeded,
    SignInFailed,
    SignedOut,
    UserCreated,
    PasswordChanged,
    /// <summary>A person registered a passkey for themselves; Reason names it and its fingerprint (never the key).</summary>
    PasskeyAdded,
    /// <summary>A person removed one of their passkeys; Reason names it and its fingerprint.</summary>
    PasskeyRemoved,
    /// <summary>A person renamed one of their passkeys; Reason gives the fingerprint and the new name.</summary>
    PasskeyRenamed,
    /// <summary>A signed-in person gave a wrong password where it is asked again (Reason says for what, e.g. adding a passkey).</summary>
    PasswordConfirmationFailed,
    /// <summary>A trading state in Redis (message or key) that was malformed, forged or not backed by Postgres; Method says which ("redis-message" or "redis-key").</summary>
    ForgedTradingState,
    /// <summary>A batch of live events on Redis that no instance sealed, or one replayed; Subject is the origin it claimed, Reason why it was refused.</summary>
    ForgedLiveEvents,
}

/// <summary>
/// Something security-relevant a person did or tried. <see cref="Subject"/> is what was typed or
/// asserted (an email, or the single sign-on subject) and is set even when no user matched;
/// <see cref="UserId"/> is set only when one did. <see cref="Method"/> says how: "password",
/// "passkey" or "oidc" for sign-ins and passkey changes, or who created the user ("cli:<os user>", "oidc", an admin's id).
/// <see cref="Roles"/> is set on successful sign-ins and user creation.
/// </summary>
public sealed record SecurityEvent(
    SecurityEventKind Kind,
    DateTimeOffset OccurredAt,
    string? UserId,
    string Subject,
    string Method,
    string? RemoteIp,
    string? Reason = null,
    IReadOnlyList<string>? Roles = null)
{
    /// <summary>
    /// <see cref="Subject"/> as the log may show it: a name typed into the password sign-in that matched no account is
    /// withheld, since people type passwords there (the audit trail never records it either).
    /// </summary>
    public string LoggableSubject => UserId is null && Method == PasswordSignIn.Method ? "(typed name, no such account)" : Subject;
}

/// <summary>
/// Where security events go. The default writes them to the log; <c>AddAuditTrail()</c> replaces it with
/// <see cref="Portal.Features.Audit.AuditedSecurityEventSink"/>, which also records them in the audit trail.
/// A sink that throws fails the action that raised the event (sign-in, user creation) rather than
/// letting it go unrecorded.
/// </summary>
public interface ISecurityEventSink
{
    ValueTask RecordAsync(SecurityEvent securityEvent, CancellationToken ct);
}

public static class SecurityEventSinkExtensions
{
    /// <summary>For handlers that must not wait (a Redis message handler): a sink that fails is reported in the log.</summary>
    public static void RecordWithoutWaiting(this ISecurityEventSink sink, SecurityEvent securityEvent, ILogger logger)
    {
        try
        {
            var recorded = sink.RecordAsync(securityEvent, CancellationToken.None);
            if (!recorded.IsCompletedSuccessfully)
                _ = recorded.AsTask().ContinueWith(t => logger.LogError(t.Exception, "Security event not recorded"), CancellationToken.None,
                    TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Security event not recorded");
        }
    }
}

public sealed partial class LoggingSecurityEventSink(ILogger<LoggingSecurityEventSink> logger) : ISecurityEventSink
{
    public ValueTask RecordAsync(SecurityEvent e, CancellationToken ct)
    {
        var level = e.Kind is SecurityEventKind.SignInFailed or SecurityEventKind.PasswordConfirmationFailed ? LogLevel.Warning : LogLevel.Information;
        Log(logger, level, e.Kind, e.LoggableSubject, e.UserId, e.Method, e.RemoteIp, e.Reason, e.Roles is null ? null : string.Join(",", e.Roles));
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 4100, Message = "Security event {Kind}: subject {Subject}, user {UserId}, method {Method}, from {RemoteIp}, reason {Reason}, roles {Roles}")]
    private static partial void Log(ILogger logger, LogLevel level, SecurityEventKind kind, string subject, string? userId, string method,
        string? remoteIp, string? reason, string? roles);
}
