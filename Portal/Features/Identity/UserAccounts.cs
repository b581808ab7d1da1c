using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore.Storage;
using Portal.Domain.Audit;
using Portal.Features.Audit;

namespace Portal.Features.Identity;

/// <summary>
/// Creates users and changes their passwords, for the CLI, the demo seed, the admin page and the account page. Each
/// change commits with its audit event (<c>user.created</c>, <c>user.password_changed</c>; actor as given) in one
/// transaction, the caller's when it has one open: a change that cannot be audited does not happen.
/// </summary>
public sealed class UserAccounts(UserManager<IdentityUser> users, PortalIdentityDbContext db, ISecurityEventSink sink, TimeProvider clock)
{
    public sealed record Created(IdentityUser User, string Password, bool PasswordGenerated);

    /// <summary>A new user named by its email, holding <paramref name="roles"/>; generates a password when none is given.</summary>
    public async Task<Created> CreateAsync(string email, IReadOnlyCollection<string> roles, string? password, string actor, CancellationToken ct = default)
    {
        var canonical = CanonicalRoles(roles);
        var generated = string.IsNullOrEmpty(password);
        password = generated ? PasswordGenerator.Generate() : password!;
        var user = new IdentityUser { UserName = email.Trim(), Email = email.Trim(), EmailConfirmed = true };
        await InTransactionAsync(async () =>
        {
            Check(await users.CreateAsync(user, password));
            if (canonical.Count > 0) Check(await users.AddToRolesAsync(user, canonical));
            return [Event(actor, "user.created", user, new { id = user.Id, email = user.Email, roles = canonical })];
        }, ct);
        await sink.RecordAsync(new SecurityEvent(SecurityEventKind.UserCreated, clock.GetUtcNow(), user.Id, user.Email!, actor, null, null, canonical), ct);
        return new Created(user, password, generated);
    }

    /// <summary>The person's own change on the account page; when Identity refuses it (wrong current password, weak new one) nothing changes or is recorded.</summary>
    public async Task<IdentityResult> ChangeOwnPasswordAsync(IdentityUser user, string current, string next, string? remoteIp, CancellationToken ct)
    {
        IdentityResult result = IdentityResult.Success;
        await InTransactionAsync(async () =>
        {
            result = await users.ChangePasswordAsync(user, current, next);
            return result.Succeeded ? [Event(user.Id, "user.password_changed", user, new { id = user.Id, email = user.Email, address = remoteIp, by = "the user" })] : [];
        }, ct);
        if (result.Succeeded)
            await sink.RecordAsync(new SecurityEvent(SecurityEventKind.PasswordChanged, clock.GetUtcNow(), user.Id, user.Email ?? "", PasswordSignIn.Method,
                remoteIp, "changed by the user"), ct);
        return result;
    }

    /// <summary>
    /// Makes sure a demo user exists with exactly this password and role and is not locked out.
    /// Returns false if it had to create the user or reset its password.
    /// </summary>
    public async Task<bool> EnsureAsync(string email, string role, string password, string actor, CancellationToken ct = default)
    {
        var canonical = CanonicalRoles([role]);
        var user = await users.FindByEmailAsync(email);
        if (user is null)
        {
            await CreateAsync(email, canonical, password, actor, ct);
            return false;
        }
        var unchanged = await users.CheckPasswordAsync(user, password);
        if (!unchanged)
        {
            await InTransactionAsync(async () =>
            {
                Check(await users.RemovePasswordAsync(user));
                Check(await users.AddPasswordAsync(user, password));
                return [Event(actor, "user.password_changed", user, new { id = user.Id, email = user.Email, by = "reset by demo seed" })];
            }, ct);
            await sink.RecordAsync(new SecurityEvent(SecurityEventKind.PasswordChanged, clock.GetUtcNow(), user.Id, email, actor, null, "reset by demo seed"), ct);
        }
        await InTransactionAsync(async () =>
        {
            var events = new List<AuditEventDraft>();
            var current = await users.GetRolesAsync(user);
            var extra = current.Except(canonical).ToList();
            var missing = canonical.Except(current).ToList();
            if (extra.Count > 0) Check(await users.RemoveFromRolesAsync(user, extra));
            if (missing.Count > 0) Check(await users.AddToRolesAsync(user, missing));
            events.AddRange(extra.Select(r => Event(actor, "user.role_removed", user, new { id = user.Id, email = user.Email, role = r })));
            events.AddRange(missing.Select(r => Event(actor, "user.role_added", user, new { id = user.Id, email = user.Email, role = r })));
            var locked = await users.IsLockedOutAsync(user);
            if (locked) events.Add(Event(actor, "user.unlocked", user, new { id = user.Id, email = user.Email }));
            if (locked || await users.GetAccessFailedCountAsync(user) > 0)
            {
                Check(await users.SetLockoutEndDateAsync(user, null));
                Check(await users.ResetAccessFailedCountAsync(user));
            }
            return events;
        }, ct);
        return unchanged;
    }

    /// <summary>Runs <paramref name="change"/> and appends its events (none: nothing to record) in the open transaction, or in one of its own.</summary>
    private async Task InTransactionAsync(Func<Task<IReadOnlyList<AuditEventDraft>>> change, CancellationToken ct)
    {
        await using IDbContextTransaction? own = db.Database.CurrentTransaction is null ? await db.Database.BeginTransactionAsync(ct) : null;
        if (await change() is { Count: > 0 } audit) await AuditTrail.AppendInTransactionAsync(db, audit, ct);
        if (own is not null) await own.CommitAsync(ct);
    }

    private AuditEventDraft Event<T>(string actor, string type, IdentityUser user, T payload) =>
        AuditEventDraft.Create(clock.GetUtcNow(), actor, type, "user:" + user.Id, payload);

    public static IReadOnlyList<string> CanonicalRoles(IEnumerable<string> roles)
    {
        var result = new List<string>();
        foreach (var name in roles)
        {
            var role = Roles.Parse(name) ?? throw new ArgumentException($"'{name}' is not a role; roles are {string.Join(", ", Roles.All)}.", nameof(roles));
            if (!result.Contains(role)) result.Add(role);
        }
        return result;
    }

    private static void Check(IdentityResult result)
    {
        if (!result.Succeeded) throw new IdentityOperationException(result.Errors.Select(e => e.Description).ToList());
    }
}

/// <summary>Identity refused an operation (duplicate email, weak password, ...); the message lists why.</summary>
public sealed class IdentityOperationException(IReadOnlyList<string> errors) : Exception(string.Join(" ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
