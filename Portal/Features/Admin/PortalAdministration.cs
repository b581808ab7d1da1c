using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Portal.Domain.Audit;
using Portal.Features.Audit;
using Portal.Features.Auth;
using Portal.Features.Identity;

namespace Portal.Features.Admin;

/// <summary>A person as the admin page lists them.</summary>
public sealed record UserSummary(string Id, string Email, IReadOnlyList<string> Roles, DateTimeOffset? LockedUntil, int FailedSignIns)
{
    public bool IsLocked(DateTimeOffset now) => LockedUntil is { } until && until > now;
}

/// <summary>An API key as the admin page lists it: never the key or its hash.</summary>
/// <param name="Strategies">What the key may trade ("*": every id not reserved to Portal); null: nothing (a key from before grants).</param>
public sealed record ApiKeySummary(Guid Id, string Name, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt,
    IReadOnlyList<string>? Strategies = null);

/// <summary>The Admin role's powers over users, roles and API keys. Every change is audited; secrets never are.</summary>
public interface IPortalAdministration
{
    Task<IReadOnlyList<UserSummary>> UsersAsync(CancellationToken ct);

    /// <summary>Creates a user with a generated password, returned here once and stored only as Identity's hash.</summary>
    Task<(UserSummary User, string Password)> CreateUserAsync(string email, IReadOnlyCollection<string> roles, string actor, CancellationToken ct);

    Task AddRoleAsync(string userId, string role, string actor, CancellationToken ct);
    Task RemoveRoleAsync(string userId, string role, string actor, CancellationToken ct);

    /// <summary>Locks the account until unlocked and ends its sessions.</summary>
    Task LockAsync(string userId, string actor, CancellationToken ct);
    Task UnlockAsync(string userId, string actor, CancellationToken ct);

    Task<IReadOnlyList<ApiKeySummary>> ApiKeysAsync(CancellationToken ct);

    /// <summary>Creates a key; the key itself is returned here once (only its SHA-256 is stored).</summary>
    Task<(string Key, ApiKeySummary Record)> CreateApiKeyAsync(string name, IReadOnlyCollection<string> scopes, IReadOnlyCollection<string> strategies, string actor, CancellationToken ct);
    Task<bool> RevokeApiKeyAsync(string name, string actor, CancellationToken ct);
}

/// <summary>
/// Users through <see cref="UserAccounts"/> (shared with <c>create-user</c>) and keys through <see cref="ApiKeyService"/>
/// (shared with <c>create-api-key</c>). A user change and its audit event commit in one transaction, so a change that
/// cannot be audited does not happen. An admin cannot lock themselves out or drop their own Admin role.
/// </summary>
public sealed class PortalAdministration(IServiceScopeFactory scopes, ApiKeyService keys, TimeProvider clock) : IPortalAdministration
{
    public async Task<IReadOnlyList<UserSummary>> UsersAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PortalIdentityDbContext>();
        var users = await db.Users.AsNoTracking().OrderBy(u => u.Email).ToListAsync(ct);
        var roles = await (from userRole in db.UserRoles
                           join role in db.Roles on userRole.RoleId equals role.Id
                           select new { userRole.UserId, role.Name }).ToListAsync(ct);
        var byUser = roles.ToLookup(r => r.UserId, r => r.Name!);
        return users.Select(u => Summary(u, byUser[u.Id].Order(StringComparer.Ordinal).ToList())).ToList();
    }

    public Task<(UserSummary User, string Password)> CreateUserAsync(string email, IReadOnlyCollection<string> roles, string actor, CancellationToken ct) =>
        InTransactionAsync(async (services, _) =>
        {
            if (string.IsNullOrWhiteSpace(email)) throw new ArgumentException("The email is required.", nameof(email));
            var canonical = UserAccounts.CanonicalRoles(roles);
            var created = await services.GetRequiredService<UserAccounts>().CreateAsync(email, canonical, password: null, actor, ct);
            var user = created.User;
            return (Event(actor, "user.created", user, new { id = user.Id, email = user.Email, roles = canonical }),
                (Summary(user, canonical), created.Password));
        }, ct);

    public Task AddRoleAsync(string userId, string role, string actor, CancellationToken ct) =>
        ChangeAsync(userId, actor, "user.role_added", async (users, user) =>
        {
            var canonical = Roles.Parse(role) ?? throw new ArgumentException($"'{role}' is not a role.", nameof(role));
            Check(await users.AddToRoleAsync(user, canonical));
            return new { id = user.Id, email = user.Email, role = canonical };
        }, ct);

    public Task RemoveRoleAsync(string userId, string role, string actor, CancellationToken ct) =>
        ChangeAsync(userId, actor, "user.role_removed", async (users, user) =>
        {
            var canonical = Roles.Parse(role) ?? throw new ArgumentException($"'{role}' is not a role.", nameof(role));
            if (canonical == Roles.Admin && IsActor(user, actor)) throw new ArgumentException("You cannot remove your own Admin role; ask another admin.");
            Check(await users.RemoveFromRoleAsync(user, canonical));
            return new { id = user.Id, email = user.Email, role = canonical };
        }, ct);

    public Task LockAsync(string userId, string actor, CancellationToken ct) =>
        ChangeAsync(userId, actor, "user.locked", async (users, user) =>
        {
            if (IsActor(user, actor)) throw new ArgumentException("You cannot lock your own account.");
            Check(await users.SetLockoutEnabledAsync(user, true));
            Check(await users.SetLockoutEndDateAsync(user, DateTimeOffset.MaxValue));
            return new { id = user.Id, email = user.Email };
        }, ct);

    public Task UnlockAsync(string userId, string actor, CancellationToken ct) =>
        ChangeAsync(userId, actor, "user.unlocked", async (users, user) =>
        {
            Check(await users.SetLockoutEndDateAsync(user, null));
            Check(await users.ResetAccessFailedCountAsync(user));
            return new { id = user.Id, email = user.Email };
        }, ct);

    public async Task<IReadOnlyList<ApiKeySummary>> ApiKeysAsync(CancellationToken ct) =>
        (await keys.ListAsync(ct)).Select(Summary).ToList();

    public async Task<(string Key, ApiKeySummary Record)> CreateApiKeyAsync(string name, IReadOnlyCollection<string> scopes, IReadOnlyCollection<string> strategies, string actor, CancellationToken ct)
    {
        var (key, record) = await keys.CreateAsync(name?.Trim() ?? "", scopes, actor, strategies, ct);
        return (key, Summary(record));
    }

    public Task<bool> RevokeApiKeyAsync(string name, string actor, CancellationToken ct) => keys.RevokeAsync(name, actor, ct);

    /// <summary>Changes one user, ends their sessions (new security stamp) and audits it, all in one transaction.</summary>
    private Task ChangeAsync<TPayload>(string userId, string actor, string type,
        Func<UserManager<IdentityUser>, IdentityUser, Task<TPayload>> change, CancellationToken ct) =>
        InTransactionAsync(async (services, _) =>
        {
            var users = services.GetRequiredService<UserManager<IdentityUser>>();
            var user = await users.FindByIdAsync(userId) ?? throw new ArgumentException("There is no such user.", nameof(userId));
            var payload = await change(users, user);
            Check(await users.UpdateSecurityStampAsync(user));
            return (Event(actor, type, user, payload), true);
        }, ct);

    private async Task<T> InTransactionAsync<T>(Func<IServiceProvider, PortalIdentityDbContext, Task<(AuditEventDraft Audit, T Result)>> action, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PortalIdentityDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var (audit, result) = await action(scope.ServiceProvider, db);
        await AuditTrail.AppendInTransactionAsync(db, [audit], ct);
        await transaction.CommitAsync(ct);
        return result;
    }

    private AuditEventDraft Event<T>(string actor, string type, IdentityUser user, T payload) =>
        AuditEventDraft.Create(clock.GetUtcNow(), actor, type, "user:" + user.Id, payload);

    private static bool IsActor(IdentityUser user, string actor) =>
        string.Equals(user.UserName, actor, StringComparison.OrdinalIgnoreCase) || string.Equals(user.Email, actor, StringComparison.OrdinalIgnoreCase);

    private static UserSummary Summary(IdentityUser user, IReadOnlyList<string> roles) =>
        new(user.Id, user.Email ?? user.UserName ?? user.Id, roles, user.LockoutEnd, user.AccessFailedCount);

    private static ApiKeySummary Summary(ApiKey key) => new(key.Id, key.Name, key.Scopes, key.CreatedAt, key.RevokedAt, key.Strategies);

    private static void Check(IdentityResult result)
    {
        if (!result.Succeeded) throw new IdentityOperationException(result.Errors.Select(e => e.Description).ToList());
    }
}

public static class AdminSetup
{
    public static IHostApplicationBuilder AddPortalAdministration(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IPortalAdministration, PortalAdministration>();
        return builder;
    }
}
