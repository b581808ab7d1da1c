using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using Portal.Domain.Audit;
using Portal.Features.Audit;

namespace Portal.Features.Identity;

/// <summary>
/// Single sign-on: turns a provider login into a local user. The user is found by its link to the
/// provider's subject, or created (named by its email) and linked on the first sign-in; an email
/// that already belongs to an unlinked local user is refused rather than taken over. The provider
/// is the source of truth for roles: the local roles become the mapped ones at every sign-in. The user's creation
/// and each role the provider gives or takes are audit events (actor <c>oidc</c>) in the transaction that makes them.
/// </summary>
public sealed class ExternalSignIn(
    SignInManager<IdentityUser> signInManager, UserManager<IdentityUser> users, PortalIdentityDbContext db, IOptions<OidcOptions> options,
    ISecurityEventSink sink, TimeProvider clock)
{
    public const string Method = "oidc";

    public sealed record Outcome(IdentityUser? User, IReadOnlyList<string> Roles, string? Error);

    /// <summary>Finds or creates the local user for <paramref name="info"/> and sets its roles; does not sign in.</summary>
    public async Task<Outcome> ProvisionAsync(ExternalLoginInfo info, string? remoteIp, CancellationToken ct)
    {
        var o = options.Value;
        var email = info.Principal.FindFirst(o.EmailClaim)?.Value ?? info.Principal.FindFirst(System.Security.Claims.ClaimTypes.Email)?.Value;
        var subject = email ?? info.ProviderKey;
        var roles = o.MapRoles(info.Principal.FindAll(o.RoleClaim).Select(c => c.Value));

        var events = new List<AuditEventDraft>();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var user = await users.FindByLoginAsync(info.LoginProvider, info.ProviderKey);
        var createdNow = user is null;
        if (user is null)
        {
            if (string.IsNullOrWhiteSpace(email))
                return await FailAsync(null, subject, remoteIp, $"the provider sent no '{o.EmailClaim}' claim", ct);
            if (await users.FindByEmailAsync(email) is not null)
                return await FailAsync(null, subject, remoteIp, "a local user already has this email; an administrator must link it", ct);
            user = new IdentityUser { UserName = email, Email = email, EmailConfirmed = true };
            var created = await users.CreateAsync(user);
            if (!created.Succeeded) return await FailAsync(null, subject, remoteIp, Describe(created), ct);
            var linked = await users.AddLoginAsync(user, info);
            if (!linked.Succeeded) return await FailAsync(user.Id, subject, remoteIp, Describe(linked), ct);
            events.Add(Event("user.created", user, new { id = user.Id, email = user.Email, roles = Array.Empty<string>(), provider = info.LoginProvider }));
        }

        var current = await users.GetRolesAsync(user);
        var remove = current.Except(roles).ToList();
        var add = roles.Except(current).ToList();
        if (remove.Count > 0 && await users.RemoveFromRolesAsync(user, remove) is { Succeeded: false } r1) return await FailAsync(user.Id, subject, remoteIp, Describe(r1), ct);
        if (add.Count > 0 && await users.AddToRolesAsync(user, add) is { Succeeded: false } r2) return await FailAsync(user.Id, subject, remoteIp, Describe(r2), ct);
        if (remove.Count > 0 || add.Count > 0) await users.UpdateSecurityStampAsync(user);
        events.AddRange(remove.Select(role => Event("user.role_removed", user, new { id = user.Id, email = user.Email, role, provider = info.LoginProvider })));
        events.AddRange(add.Select(role => Event("user.role_added", user, new { id = user.Id, email = user.Email, role, provider = info.LoginProvider })));
        if (events.Count > 0) await AuditTrail.AppendInTransactionAsync(db, events, ct);
        await transaction.CommitAsync(ct);
        if (createdNow)
            await sink.RecordAsync(new SecurityEvent(SecurityEventKind.UserCreated, clock.GetUtcNow(), user.Id, subject, Method, remoteIp, "first single sign-on", roles), ct);
        return new Outcome(user, roles, null);
    }

    /// <summary>Provisions and signs in with the sign-in cookie; false (and recorded) when refused or locked out.</summary>
    public async Task<Outcome> SignInAsync(ExternalLoginInfo info, HttpContext http)
    {
        var ip = http.Connection.RemoteIpAddress?.ToString();
        var outcome = await ProvisionAsync(info, ip, http.RequestAborted);
        if (outcome.User is null) return outcome;
        var result = await signInManager.ExternalLoginSignInAsync(info.LoginProvider, info.ProviderKey, isPersistent: false, bypassTwoFactor: true);
        if (!result.Succeeded)
            return await FailAsync(outcome.User.Id, outcome.User.Email ?? info.ProviderKey, ip, result.IsLockedOut ? "locked out" : "not allowed", http.RequestAborted);
        await sink.RecordAsync(new SecurityEvent(SecurityEventKind.SignInSucceeded, clock.GetUtcNow(), outcome.User.Id, outcome.User.Email ?? info.ProviderKey,
            Method, ip, null, outcome.Roles), http.RequestAborted);
        return outcome;
    }

    private async Task<Outcome> FailAsync(string? userId, string subject, string? ip, string reason, CancellationToken ct)
    {
        await sink.RecordAsync(new SecurityEvent(SecurityEventKind.SignInFailed, clock.GetUtcNow(), userId, subject, Method, ip, reason), ct);
        return new Outcome(null, [], reason);
    }

    private AuditEventDraft Event<T>(string type, IdentityUser user, T payload) =>
        AuditEventDraft.Create(clock.GetUtcNow(), Method, type, "user:" + user.Id, payload);

    private static string Describe(IdentityResult result) => string.Join(" ", result.Errors.Select(e => e.Description));
}
