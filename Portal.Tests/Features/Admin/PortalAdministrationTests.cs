using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using Portal.Features.Admin;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Tests.Features.Audit;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Admin;

/// <summary>The admin powers over real Identity tables and the audit trail: each change works, is audited, and no secret is recorded.</summary>
public sealed class PortalAdministrationTests : IAsyncLifetime
{
    private const string Admin = "admin-of-tests@test.local";
    private PortalFactory _portal = null!;
    private IPortalAdministration _admin = null!;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync();
        _admin = _portal.Get<IPortalAdministration>();
        await using var scope = _portal.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<UserAccounts>().CreateAsync(Admin, [Roles.Admin], password: null, "test");
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task A_created_user_signs_in_with_the_generated_password_which_is_audited_nowhere()
    {
        var (user, password) = await _admin.CreateUserAsync("made-by-admin@test.local", [Roles.OnCall], Admin, CancellationToken.None);

        await _portal.SignInAsync(new TestUser(user.Email, password, [Roles.OnCall]));
        var created = (await _portal.EventsAsync("user.created")).Single(e => e.Payload.GetProperty("email").GetString() == user.Email);
        Assert.Equal(Admin, created.Actor);
        Assert.Equal(Roles.OnCall, created.Payload.GetProperty("roles")[0].GetString());
        Assert.DoesNotContain(password, created.Payload.GetRawText(), StringComparison.Ordinal);
        Assert.Contains(await _admin.UsersAsync(CancellationToken.None), u => u.Email == user.Email && u.Roles.SequenceEqual([Roles.OnCall]));
    }

    [Fact]
    public async Task Roles_and_locks_change_what_a_person_can_do_and_each_change_is_audited()
    {
        var person = await _portal.CreateUserAsync(Roles.OnCall);
        var id = (await _admin.UsersAsync(CancellationToken.None)).Single(u => u.Email == person.Email).Id;

        await _admin.AddRoleAsync(id, "compliance", Admin, CancellationToken.None);
        var client = await _portal.SignInAsync(person);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/audit/events?limit=1")).StatusCode);
        await _admin.RemoveRoleAsync(id, Roles.Compliance, Admin, CancellationToken.None);
        Assert.Equal([Roles.OnCall], (await _admin.UsersAsync(CancellationToken.None)).Single(u => u.Id == id).Roles);

        await _admin.LockAsync(id, Admin, CancellationToken.None);
        Assert.True((await _admin.UsersAsync(CancellationToken.None)).Single(u => u.Id == id).IsLocked(DateTimeOffset.UtcNow));
        await Assert.ThrowsAsync<InvalidOperationException>(() => _portal.SignInAsync(person));
        await _admin.UnlockAsync(id, Admin, CancellationToken.None);
        await _portal.SignInAsync(person);

        // Besides the sign-ins, which are recorded by sign-in (AuditedSecurityEventsTests).
        string[] signIns = ["user.signed_in", "user.sign_in_failed"];
        var types = (await _portal.EventsAsync("user.")).Where(e => e.Type != "user.created" && !signIns.Contains(e.Type) && e.Payload.GetProperty("id").GetString() == id)
            .Select(e => e.Type);
        Assert.Equal(["user.role_added", "user.role_removed", "user.locked", "user.unlocked"], types);
    }

    [Fact]
    public async Task An_admin_cannot_lock_themselves_out_nor_drop_their_own_admin_role()
    {
        var self = await _portal.CreateUserAsync(Roles.Admin);
        var id = (await _admin.UsersAsync(CancellationToken.None)).Single(u => u.Email == self.Email).Id;

        await Assert.ThrowsAsync<ArgumentException>(() => _admin.LockAsync(id, self.Email, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(() => _admin.RemoveRoleAsync(id, Roles.Admin, self.Email, CancellationToken.None));
        Assert.DoesNotContain(await _portal.EventsAsync("user."), e => e.Type != "user.created" && e.Payload.GetProperty("id").GetString() == id);
    }

    /// <summary>
    /// The admin page keeps the sign-in it opened with (re-checked every few minutes); the powers it calls check the actor
    /// as Postgres has them now. A locked Admin could unlock themselves from a page left open, and a demoted one make keys.
    /// </summary>
    [Fact]
    public async Task An_admin_locked_or_demoted_a_moment_ago_can_change_nothing_from_a_page_still_open()
    {
        var locked = await _portal.CreateUserAsync(Roles.Admin);
        var demoted = await _portal.CreateUserAsync(Roles.Admin);
        var person = await _portal.CreateUserAsync(Roles.OnCall);
        var users = await _admin.UsersAsync(CancellationToken.None);
        string IdOf(TestUser user) => users.Single(u => u.Email == user.Email).Id;
        await _admin.LockAsync(IdOf(locked), Admin, CancellationToken.None);
        await _admin.RemoveRoleAsync(IdOf(demoted), Roles.Admin, Admin, CancellationToken.None);
        await _admin.CreateApiKeyAsync("kept", [Scopes.Audit], [], null, Admin, CancellationToken.None);

        foreach (var actor in new[] { locked.Email, demoted.Email })
        {
            await Assert.ThrowsAsync<ArgumentException>(() => _admin.UnlockAsync(IdOf(locked), actor, CancellationToken.None));
            await Assert.ThrowsAsync<ArgumentException>(() => _admin.AddRoleAsync(IdOf(person), Roles.Compliance, actor, CancellationToken.None));
            await Assert.ThrowsAsync<ArgumentException>(() => _admin.LockAsync(IdOf(person), actor, CancellationToken.None));
            await Assert.ThrowsAsync<ArgumentException>(() => _admin.CreateUserAsync($"made-{Guid.NewGuid():N}@test.local", [Roles.OnCall], actor, CancellationToken.None));
            await Assert.ThrowsAsync<ArgumentException>(() => _admin.CreateApiKeyAsync("by-" + actor, [Scopes.Orders], ["*"], null, actor, CancellationToken.None));
            await Assert.ThrowsAsync<ArgumentException>(() => _admin.RevokeApiKeyAsync("kept", actor, CancellationToken.None));
        }

        Assert.True((await _admin.UsersAsync(CancellationToken.None)).Single(u => u.Email == locked.Email).IsLocked(DateTimeOffset.UtcNow));
        Assert.Equal([Roles.OnCall], (await _admin.UsersAsync(CancellationToken.None)).Single(u => u.Email == person.Email).Roles);
        Assert.Null((await _admin.ApiKeysAsync(CancellationToken.None)).Single(k => k.Name == "kept").RevokedAt);
        Assert.DoesNotContain(await _admin.ApiKeysAsync(CancellationToken.None), k => k.Name.StartsWith("by-", StringComparison.Ordinal));
        Assert.DoesNotContain(await _portal.EventsAsync(""), e => e.Actor == locked.Email || e.Actor == demoted.Email);
    }

    [Fact]
    public async Task A_key_created_on_the_admin_page_works_until_revoked_and_both_are_audited_without_the_key()
    {
        var (key, record) = await _admin.CreateApiKeyAsync("admin-made", [Scopes.Audit], [], null, Admin, CancellationToken.None);
        var client = _portal.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/audit/events?limit=1")).StatusCode);

        Assert.True(await _admin.RevokeApiKeyAsync("admin-made", Admin, CancellationToken.None));
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/audit/events?limit=1")).StatusCode);
        Assert.NotNull((await _admin.ApiKeysAsync(CancellationToken.None)).Single(k => k.Id == record.Id).RevokedAt);

        var events = (await _portal.EventsAsync("apikey.")).Where(e => e.Payload.GetProperty("id").GetString() == record.Id.ToString()).ToList();
        Assert.Equal(["apikey.created", "apikey.revoked"], events.Select(e => e.Type));
        Assert.All(events, e => Assert.Equal(Admin, e.Actor));
        Assert.All(events, e => Assert.DoesNotContain(key[3..12], e.Payload.GetRawText(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_key_made_to_expire_carries_its_expiry_into_the_record_and_the_trail_and_an_expiry_out_of_range_is_refused()
    {
        var (_, record) = await _admin.CreateApiKeyAsync("admin-made-expiring", [Scopes.Audit], [], 30, Admin, CancellationToken.None);

        Assert.InRange(record.ExpiresAt!.Value, DateTimeOffset.UtcNow.AddDays(30).AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(30));
        var created = Assert.Single(await _portal.EventsAsync("apikey.created"), e => e.Payload.GetProperty("id").GetString() == record.Id.ToString());
        Assert.Equal(record.ExpiresAt.Value, created.Payload.GetProperty("expiresAt").GetDateTimeOffset());
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => _admin.CreateApiKeyAsync("admin-made-never", [Scopes.Audit], [], 0, Admin, CancellationToken.None));
        Assert.Equal("expiresInDays", refused.ParamName);
        Assert.DoesNotContain(await _admin.ApiKeysAsync(CancellationToken.None), k => k.Name == "admin-made-never");
    }
}
