using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using Npgsql;
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
/// <param name="ExpiresAt">When the key stops working by itself (a readiness drill's key); null: when revoked.</param>
public sealed record ApiKeySummary(Guid Id, string Name, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt,
    IReadOnlyList<string>? Strategies = null, DateTimeOffset? ExpiresAt = null);

/// <summary>A request for a role that needs a second Admin (<see cref="Roles.NeedingApproval"/>), waiting for their decision.</summary>
public sealed record RoleGrantView(Guid Id, string UserId, string Email, string Role, string RequestedBy, DateTimeOffset RequestedAt, DateTimeOffset ExpiresAt);

/// <summary>What adding a role did: granted at once, or a request waiting for another Admin.</summary>
public enum RoleChange { Granted, PendingApproval }

/// <summary>The Admin role's powers over users, roles and API keys. Every change is audited; secrets never are.</summary>
public interface IPortalAdministration
{
    Task<IReadOnlyList<UserSummary>> UsersAsync(CancellationToken ct);

    /// <summary>
    /// Creates a user with a generated password, returned here once and stored only as Identity's hash. Roles needing
    /// approval are requested, not given: <see cref="UserSummary.Roles"/> lists those the user holds now.
    /// </summary>
    Task<(UserSummary User, string Password)> CreateUserAsync(string email, IReadOnlyCollection<string> roles, string actor, CancellationToken ct);

    /// <summary>Gives OnCall or Compliance at once; RiskOfficer or Admin becomes a request another Admin approves.</summary>
    Task<RoleChange> AddRoleAsync(string userId, string role, string actor, CancellationToken ct);

    /// <summary>Takes effect at once: removing a privilege only tightens.</summary>
    Task RemoveRoleAsync(string userId, string role, string actor, CancellationToken ct);

    /// <summary>Role requests still waiting (expired ones are marked expired first).</summary>
    Task<IReadOnlyList<RoleGrantView>> PendingRoleGrantsAsync(CancellationToken ct);

    /// <summary>Gives the requested role; <paramref name="actor"/> must be an Admin other than the requester and the person.</summary>
    Task ApproveRoleGrantAsync(Guid grantId, string actor, CancellationToken ct);

    /// <summary>Refuses a request; any Admin may (the requester too, to withdraw it).</summary>
    Task RejectRoleGrantAsync(Guid grantId, string actor, CancellationToken ct);

    /// <summary>Locks the account until unlocked and ends its sessions.</summary>
    Task LockAsync(string userId, string actor, CancellationToken ct);
    Task UnlockAsync(string userId, string actor, CancellationToken ct);

    Task<IReadOnlyList<ApiKeySummary>> ApiKeysAsync(CancellationToken ct);

    /// <summary>Creates a key; the key itself is returned here once (only its SHA-256 is stored).</summary>
    /// <param name="expiresInDays">Days until the key stops working by itself; null: when revoked.</param>
    Task<(string Key, ApiKeySummary Record)> CreateApiKeyAsync(string name, IReadOnlyCollection<string> scopes, IReadOnlyCollection<string> strategies, int? expiresInDays,
        string actor, CancellationToken ct);
    Task<bool> RevokeApiKeyAsync(string name, string actor, CancellationToken ct);
}

/// <summary>
/// Users through <see cref="UserAccounts"/> (shared with <c>create-user</c>) and keys through <see cref="ApiKeyService"/>
/// (shared with <c>create-api-key</c>). A user change and its audit event commit in one transaction, so a change that
/// cannot be audited does not happen. An admin cannot lock themselves out or drop their own Admin role.
/// Four-eyes on privilege: RiskOfficer and Admin are granted only when a second Admin approves the request (rows in
/// <c>role_grants</c>). Every change checks its actor against Postgres, not the caller's session, so an Admin demoted or
/// locked a moment ago changes nothing, and an approval checks the requester too. A key created here is owned by the Admin
/// who created it.
/// </summary>
public sealed class PortalAdministration(IServiceScopeFactory scopes, ApiKeyService keys, TimeProvider clock, IOptions<AdminOptions> options)
    : IPortalAdministration
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

    public async Task<(UserSummary User, string Password)> CreateUserAsync(string email, IReadOnlyCollection<string> roles, string actor, CancellationToken ct)
    {
        await ExpireDueGrantsAsync(ct);
        return await InTransactionAsync(actor, async (services, db, admin) =>
        {
            if (string.IsNullOrWhiteSpace(email)) throw new ArgumentException("The email is required.", nameof(email));
            var canonical = UserAccounts.CanonicalRoles(roles);
            var now = canonical.Where(r => !Roles.NeedingApproval.Contains(r)).ToList();
            var requested = canonical.Where(Roles.NeedingApproval.Contains).ToList();
            var created = await services.GetRequiredService<UserAccounts>().CreateAsync(email, now, password: null, actor, ct);
            var user = created.User;
            // UserAccounts recorded user.created in this transaction; each role needing approval is a request of its own.
            var events = new List<AuditEventDraft>();
            var users = services.GetRequiredService<UserManager<IdentityUser>>();
            foreach (var role in requested) events.Add(await RequestGrantAsync(db, users, user, role, admin, actor, ct));
            return ((IReadOnlyList<AuditEventDraft>)events, (Summary(user, now), created.Password));
        }, ct);
    }

    public async Task<RoleChange> AddRoleAsync(string userId, string role, string actor, CancellationToken ct)
    {
        var canonical = Roles.Parse(role) ?? throw new ArgumentException($"'{role}' is not a role.", nameof(role));
        if (!Roles.NeedingApproval.Contains(canonical))
        {
            await ChangeAsync(userId, actor, "user.role_added", async (users, user) =>
            {
                Check(await users.AddToRoleAsync(user, canonical));
                return new { id = user.Id, email = user.Email, role = canonical };
            }, ct);
            return RoleChange.Granted;
        }
        await ExpireDueGrantsAsync(ct);
        return await InTransactionAsync(actor, async (services, db, admin) =>
        {
            var users = services.GetRequiredService<UserManager<IdentityUser>>();
            var user = await users.FindByIdAsync(userId) ?? throw new ArgumentException("There is no such user.", nameof(userId));
            return ((IReadOnlyList<AuditEventDraft>)[await RequestGrantAsync(db, users, user, canonical, admin, actor, ct)], RoleChange.PendingApproval);
        }, ct);
    }

    public async Task<IReadOnlyList<RoleGrantView>> PendingRoleGrantsAsync(CancellationToken ct)
    {
        await ExpireDueGrantsAsync(ct);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PortalIdentityDbContext>();
        await db.Database.OpenConnectionAsync(ct);
        await using var command = Command(db, """
            select g.id, g.user_id, coalesce(u."Email", u."UserName", g.user_id), g.role, g.requested_by, g.requested_at, g.expires_at
            from role_grants g join "AspNetUsers" u on u."Id" = g.user_id
            where g.state = 'pending' order by g.requested_at
            """);
        var grants = new List<RoleGrantView>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            grants.Add(new RoleGrantView(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.GetFieldValue<DateTimeOffset>(5), reader.GetFieldValue<DateTimeOffset>(6)));
        return grants;
    }

    public Task ApproveRoleGrantAsync(Guid grantId, string actor, CancellationToken ct) => DecideGrantAsync(grantId, actor, approve: true, ct);

    public Task RejectRoleGrantAsync(Guid grantId, string actor, CancellationToken ct) => DecideGrantAsync(grantId, actor, approve: false, ct);

    /// <summary>The request and its audit record commit together; a second request for the same person and role is refused.</summary>
    private async Task<AuditEventDraft> RequestGrantAsync(PortalIdentityDbContext db, UserManager<IdentityUser> users, IdentityUser user, string role,
        IdentityUser requester, string actor, CancellationToken ct)
    {
        if (await users.IsInRoleAsync(user, role)) throw new ArgumentException($"{user.Email} already holds {role}.");
        var id = Guid.CreateVersion7(clock.GetUtcNow());
        var now = clock.GetUtcNow();
        var expires = now + options.Value.RoleGrantExpiry;
        await using var insert = Command(db, """
            insert into role_grants (id, user_id, role, requested_by, requester_id, requested_at, expires_at, state)
            select $1, $2, $3, $4, $5, $6, $7, 'pending'
            where not exists (select 1 from role_grants where user_id = $2 and role = $3 and state = 'pending')
            """, id, user.Id, role, actor, requester.Id, now, expires);
        if (await insert.ExecuteNonQueryAsync(ct) == 0)
            throw new ArgumentException($"A request for {role} for {user.Email} is already waiting for another Admin.");
        return Event(actor, "user.role_requested", user, new { grantId = id, id = user.Id, email = user.Email, role, expiresAt = expires });
    }

    private Task DecideGrantAsync(Guid grantId, string actor, bool approve, CancellationToken ct) =>
        InTransactionAsync(actor, async (services, db, decider) =>
        {
            var users = services.GetRequiredService<UserManager<IdentityUser>>();
            // Row lock: two Admins deciding at once, or a decision racing an expiry, see one another's outcome.
            await using var select = Command(db, "select user_id, role, requested_by, requester_id, state, expires_at from role_grants where id = $1 for update", grantId);
            string userId, role, requestedBy, requesterId, state;
            DateTimeOffset expiresAt;
            await using (var reader = await select.ExecuteReaderAsync(ct))
            {
                if (!await reader.ReadAsync(ct)) throw new ArgumentException("There is no such role request.", nameof(grantId));
                (userId, role, requestedBy, requesterId, state, expiresAt) = (reader.GetString(0), reader.GetString(1), reader.GetString(2),
                    reader.GetString(3), reader.GetString(4), reader.GetFieldValue<DateTimeOffset>(5));
            }
            if (state != "pending") throw new ArgumentException($"The request is {state}, not pending.");
            var now = clock.GetUtcNow();
            if (expiresAt <= now) throw new ArgumentException("The request has expired; ask again.");
            var user = await users.FindByIdAsync(userId) ?? throw new ArgumentException("There is no such user.");
            if (approve)
            {
                if (decider.Id == userId) throw new ArgumentException($"Nobody approves {role} for themselves; another Admin must.");
                if (decider.Id == requesterId) throw new ArgumentException("Nobody approves their own request; another Admin must.");
                if (await AdminAsync(db, users, requesterId, byId: true, ct) is null)
                    throw new ArgumentException($"{requestedBy}, who requested this, is no longer an Admin (role removed or account locked): the request no longer stands; reject it and ask again.");
                if (!await users.IsInRoleAsync(user, role)) Check(await users.AddToRoleAsync(user, role));
                Check(await users.UpdateSecurityStampAsync(user));
            }
            await using var update = Command(db, "update role_grants set state = $2, decided_by = $3, decided_at = $4 where id = $1",
                grantId, approve ? "approved" : "rejected", actor, now);
            await update.ExecuteNonQueryAsync(ct);
            return ((IReadOnlyList<AuditEventDraft>)[Event(actor, approve ? "user.role_approved" : "user.role_rejected", user,
                new { grantId, id = user.Id, email = user.Email, role, requestedBy })], true);
        }, ct);

    /// <summary>Marks requests past their expiry as expired, each with its audit record, in a transaction of its own.</summary>
    private async Task ExpireDueGrantsAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PortalIdentityDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var now = clock.GetUtcNow();
        await using var expire = Command(db, """
            update role_grants set state = 'expired', decided_at = $1 where state = 'pending' and expires_at <= $1
            returning id, user_id, role, requested_by
            """, now);
        var events = new List<AuditEventDraft>();
        await using (var reader = await expire.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct))
                events.Add(AuditEventDraft.Create(now, "system", "user.role_expired", "user:" + reader.GetString(1),
                    new { grantId = reader.GetGuid(0), id = reader.GetString(1), role = reader.GetString(2), requestedBy = reader.GetString(3) }));
        if (events.Count == 0) return;
        await AuditTrail.AppendInTransactionAsync(db, events, ct);
        await transaction.CommitAsync(ct);
    }

    /// <summary>
    /// The Admin named by <paramref name="actor"/> (user name or email, or id with <paramref name="byId"/>) as Postgres has them
    /// now: holding Admin and not locked. Their row stays share-locked until the transaction ends: removing their role or
    /// locking them writes that row, so it commits wholly before this decision or after it, never beside it.
    /// </summary>
    private static async Task<IdentityUser?> AdminAsync(PortalIdentityDbContext db, UserManager<IdentityUser> users, string actor, bool byId, CancellationToken ct)
    {
        await using var lockRow = byId
            ? Command(db, """select "Id" from "AspNetUsers" where "Id" = $1 for share""", actor)
            : Command(db, """
                select "Id" from "AspNetUsers" where "NormalizedUserName" = $1 or "NormalizedEmail" = $2
                order by "NormalizedUserName" = $1 desc limit 1 for share
                """, users.NormalizeName(actor) ?? "", users.NormalizeEmail(actor) ?? "");
        if (await lockRow.ExecuteScalarAsync(ct) is not string id) return null;
        var user = await users.FindByIdAsync(id);
        return user is not null && await users.IsInRoleAsync(user, Roles.Admin) && !await users.IsLockedOutAsync(user) ? user : null;
    }

    private static ArgumentException NotAnAdmin(string actor) =>
        new($"Only an Admin may do this, and {actor} is not one now (role removed or account locked); nothing was changed.");

    /// <summary>For the powers whose change commits elsewhere (API keys): the actor must be an Admin as Postgres has them now.</summary>
    private async Task RequireAdminAsync(string actor, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PortalIdentityDbContext>();
        await db.Database.OpenConnectionAsync(ct);
        if (await AdminAsync(db, scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>(), actor, byId: false, ct) is null) throw NotAnAdmin(actor);
    }

    private static NpgsqlCommand Command(PortalIdentityDbContext db, string sql, params object[] values)
    {
        var command = new NpgsqlCommand(sql, (NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction?)db.Database.CurrentTransaction?.GetDbTransaction());
        foreach (var value in values) command.Parameters.AddWithValue(value);
        return command;
    }

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

    public async Task<(string Key, ApiKeySummary Record)> CreateApiKeyAsync(string name, IReadOnlyCollection<string> scopes, IReadOnlyCollection<string> strategies,
        int? expiresInDays, string actor, CancellationToken ct)
    {
        await RequireAdminAsync(actor, ct);
        var (key, record) = await keys.CreateAsync(name?.Trim() ?? "", scopes, actor, strategies, owner: actor,
            expiresAt: expiresInDays is { } days ? keys.ExpiryIn(days) : null, ct: ct);
        return (key, Summary(record));
    }

    public async Task<bool> RevokeApiKeyAsync(string name, string actor, CancellationToken ct)
    {
        await RequireAdminAsync(actor, ct);
        return await keys.RevokeAsync(name, actor, ct);
    }

    /// <summary>Changes one user, ends their sessions (new security stamp) and audits it, all in one transaction.</summary>
    private Task ChangeAsync<TPayload>(string userId, string actor, string type,
        Func<UserManager<IdentityUser>, IdentityUser, Task<TPayload>> change, CancellationToken ct) =>
        InTransactionAsync(actor, async (services, _, _) =>
        {
            var users = services.GetRequiredService<UserManager<IdentityUser>>();
            var user = await users.FindByIdAsync(userId) ?? throw new ArgumentException("There is no such user.", nameof(userId));
            var payload = await change(users, user);
            Check(await users.UpdateSecurityStampAsync(user));
            return ((IReadOnlyList<AuditEventDraft>)[Event(actor, type, user, payload)], true);
        }, ct);

    /// <summary>
    /// One Admin's change: <paramref name="actor"/> is checked first, against Postgres rather than the caller's session (which
    /// a page keeps for minutes), so a demoted or locked Admin changes nothing.
    /// </summary>
    private async Task<T> InTransactionAsync<T>(string actor,
        Func<IServiceProvider, PortalIdentityDbContext, IdentityUser, Task<(IReadOnlyList<AuditEventDraft> Audit, T Result)>> action, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PortalIdentityDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var admin = await AdminAsync(db, scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>(), actor, byId: false, ct) ?? throw NotAnAdmin(actor);
        var (audit, result) = await action(scope.ServiceProvider, db, admin);
        await AuditTrail.AppendInTransactionAsync(db, audit, ct);
        await transaction.CommitAsync(ct);
        return result;
    }

    private AuditEventDraft Event<T>(string actor, string type, IdentityUser user, T payload) =>
        AuditEventDraft.Create(clock.GetUtcNow(), actor, type, "user:" + user.Id, payload);

    private static bool IsActor(IdentityUser user, string actor) =>
        string.Equals(user.UserName, actor, StringComparison.OrdinalIgnoreCase) || string.Equals(user.Email, actor, StringComparison.OrdinalIgnoreCase);

    private static UserSummary Summary(IdentityUser user, IReadOnlyList<string> roles) =>
        new(user.Id, user.Email ?? user.UserName ?? user.Id, roles, user.LockoutEnd, user.AccessFailedCount);

    private static ApiKeySummary Summary(ApiKey key) => new(key.Id, key.Name, key.Scopes, key.CreatedAt, key.RevokedAt, key.Strategies, key.ExpiresAt);

    private static void Check(IdentityResult result)
    {
        if (!result.Succeeded) throw new IdentityOperationException(result.Errors.Select(e => e.Description).ToList());
    }
}

public static class AdminSetup
{
    public static IHostApplicationBuilder AddPortalAdministration(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AdminOptions>().BindConfiguration(AdminOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AdminOptions>, AdminOptionsValidator>();
        builder.Services.AddSingleton<IPortalAdministration, PortalAdministration>();
        return builder;
    }
}
