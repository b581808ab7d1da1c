using Microsoft.AspNetCore.Identity;

namespace Portal.Features.Identity;

/// <summary>Creates users and changes their passwords; used by the CLI, the demo seed and (later) the admin page.</summary>
public sealed class UserAccounts(UserManager<IdentityUser> users, ISecurityEventSink sink, TimeProvider clock)
{
    public sealed record Created(IdentityUser User, string Password, bool PasswordGenerated);

    /// <summary>A new user named by its email, holding <paramref name="roles"/>; generates a password when none is given.</summary>
    public async Task<Created> CreateAsync(string email, IReadOnlyCollection<string> roles, string? password, string actor, CancellationToken ct = default)
    {
        var canonical = CanonicalRoles(roles);
        var generated = string.IsNullOrEmpty(password);
        password = generated ? PasswordGenerator.Generate() : password!;
        var user = new IdentityUser { UserName = email.Trim(), Email = email.Trim(), EmailConfirmed = true };
        Check(await users.CreateAsync(user, password));
        if (canonical.Count > 0) Check(await users.AddToRolesAsync(user, canonical));
        await sink.RecordAsync(new SecurityEvent(SecurityEventKind.UserCreated, clock.GetUtcNow(), user.Id, user.Email!, actor, null, null, canonical), ct);
        return new Created(user, password, generated);
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
            Check(await users.RemovePasswordAsync(user));
            Check(await users.AddPasswordAsync(user, password));
            await sink.RecordAsync(new SecurityEvent(SecurityEventKind.PasswordChanged, clock.GetUtcNow(), user.Id, email, actor, null, "reset by demo seed"), ct);
        }
        var current = await users.GetRolesAsync(user);
        var extra = current.Except(canonical).ToList();
        var missing = canonical.Except(current).ToList();
        if (extra.Count > 0) Check(await users.RemoveFromRolesAsync(user, extra));
        if (missing.Count > 0) Check(await users.AddToRolesAsync(user, missing));
        if (await users.IsLockedOutAsync(user) || await users.GetAccessFailedCountAsync(user) > 0)
        {
            Check(await users.SetLockoutEndDateAsync(user, null));
            Check(await users.ResetAccessFailedCountAsync(user));
        }
        return unchanged;
    }

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
