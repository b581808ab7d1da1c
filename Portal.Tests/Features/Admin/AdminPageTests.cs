using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using Portal.Features.Admin;
using Portal.Features.Admin.Pages;
using Portal.Features.Auth;
using Portal.Features.Identity;
using MudBlazor.Services;

namespace Portal.Tests.Features.Admin;

/// <summary>The admin page's logic with bUnit: secrets are shown once, revocation takes a second click, refusals are shown.</summary>
public sealed class AdminPageTests : IAsyncLifetime
{
    // Composed, not inherited: MudBlazor's popover and dialog services dispose only asynchronously, and xunit 2 disposes test classes synchronously.
    private readonly BunitContext _bunit = new();
    private readonly FakeAdministration _admin = new();

    public AdminPageTests()
    {
        _bunit.Services.AddMudServices();
        _bunit.JSInterop.Mode = JSRuntimeMode.Loose;
        _bunit.Services.AddSingleton<IPortalAdministration>(_admin);
        _bunit.Services.AddSingleton(TimeProvider.System);
        _bunit.AddAuthorization().SetAuthorized("admin@test.local").SetPolicies(Policies.Admin);
        _bunit.Render<MudPopoverProvider>();
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bunit.DisposeAsync();

    [Fact]
    public void A_new_key_is_shown_once_and_never_again_after_it_is_dismissed()
    {
        var cut = _bunit.Render<AdminApiKeys>();

        cut.Find("input#key-name").Change("wall-screen");
        cut.Find("input[data-scope='orders']").Change(true);
        cut.Find("input[data-scope='halt']").Change(true);
        cut.Find("input#key-strategies").Change("mom-1, mean-rev");
        cut.Find("#create-key").Click();

        cut.WaitForAssertion(() => Assert.Equal(FakeAdministration.Key, cut.Find("#new-key-value").TextContent));
        var created = _admin.CreatedKeys.Single();
        Assert.Equal(("wall-screen", "admin@test.local"), (created.Name, created.Actor));
        Assert.Equal(["halt", "orders"], created.Scopes.Order());
        Assert.Equal(["mean-rev", "mom-1"], created.Strategies.Order());
        Assert.Contains("wall-screen", cut.Find("#api-keys").TextContent);
        Assert.DoesNotContain(FakeAdministration.Key, cut.Find("#api-keys").TextContent);

        cut.Find("#dismiss-key").Click();

        Assert.DoesNotContain(FakeAdministration.Key, cut.Markup);
        var again = _bunit.Render<AdminApiKeys>();
        Assert.DoesNotContain(FakeAdministration.Key, again.Markup);
    }

    [Fact]
    public void A_key_given_days_to_live_is_created_with_them_and_listed_as_active_until_then_and_an_expired_one_as_expired()
    {
        _admin.Keys.Add(new ApiKeySummary(Guid.NewGuid(), "lapsed-bot", ["orders"], DateTimeOffset.UnixEpoch, null, ExpiresAt: new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero)));
        _admin.Keys.Add(new ApiKeySummary(Guid.NewGuid(), "expiring-bot", ["orders"], DateTimeOffset.UnixEpoch, null, ExpiresAt: DateTimeOffset.UtcNow.AddDays(3).AddHours(1)));
        var cut = _bunit.Render<AdminApiKeys>();

        cut.Find("input#key-name").Change("rotating");
        cut.Find("input[data-scope='halt']").Change(true);
        cut.Find("input#key-expires").Change("90");
        cut.Find("#create-key").Click();

        cut.WaitForAssertion(() => Assert.Contains("Active until", cut.Find("#new-key").TextContent));
        var statuses = cut.FindAll(".key-status").Select(s => s.TextContent.Trim()).ToList();
        Assert.Equal("Expired 2026-01-02 03:04:05 UTC: create its successor, then revoke it", statuses[0]);
        // Within a week of its expiry a key is flagged, as the alert PortalApiKeyExpiring does.
        Assert.StartsWith("Active until ", statuses[1]);
        Assert.Contains(": expires in 3 days 59 minutes, rotate it", statuses[1]);
        Assert.StartsWith($"Active until {DateTime.UtcNow.AddDays(90):yyyy-MM-dd}", statuses[2]);
        Assert.DoesNotContain("rotate", statuses[2]);
        Assert.Equal([true, true, false], cut.FindAll(".key-status").Select(s => s.ClassList.Contains("key-expiring")));
    }

    [Fact]
    public void A_refused_key_shows_why()
    {
        var cut = _bunit.Render<AdminApiKeys>();

        cut.Find("input#key-name").Change("no-scopes");
        cut.Find("#create-key").Click();

        cut.WaitForAssertion(() => Assert.Contains("Scopes must be one or more", cut.Find("#key-error").TextContent));
        Assert.Empty(cut.FindAll("#new-key"));
    }

    [Fact]
    public void A_keys_created_and_revoked_times_are_shown_in_UTC_with_the_zone()
    {
        _admin.Keys.Add(new ApiKeySummary(Guid.NewGuid(), "old-bot", ["orders"], new DateTimeOffset(2026, 12, 6, 9, 5, 7, TimeSpan.FromHours(1)),
            new DateTimeOffset(2026, 12, 6, 20, 0, 0, TimeSpan.Zero)));

        var cut = _bunit.Render<AdminApiKeys>();

        cut.WaitForAssertion(() => Assert.Contains("2026-12-06 08:05:07 UTC", cut.Find("#api-keys").TextContent));
        Assert.Equal("Revoked 2026-12-06 20:00:00 UTC", cut.Find(".key-status").TextContent.Trim());
    }

    [Fact]
    public void Revoking_takes_a_second_click_and_then_shows_the_key_revoked()
    {
        _admin.Keys.Add(new ApiKeySummary(Guid.NewGuid(), "old-bot", ["orders"], DateTimeOffset.UnixEpoch, null));
        var cut = _bunit.Render<AdminApiKeys>();

        cut.Find(".revoke-key").Click();
        Assert.Empty(_admin.Revoked);
        cut.WaitForElement(".confirm-revoke").Click();

        cut.WaitForAssertion(() => Assert.StartsWith("Revoked", cut.Find(".key-status").TextContent));
        Assert.Equal(("old-bot", "admin@test.local"), _admin.Revoked.Single());
        Assert.Empty(cut.FindAll(".revoke-key"));
    }

    [Fact]
    public void A_revocation_refused_because_the_admin_is_no_longer_one_is_explained_and_the_key_stays_listed_active()
    {
        _admin.Keys.Add(new ApiKeySummary(Guid.NewGuid(), "old-bot", ["orders"], DateTimeOffset.UnixEpoch, null));
        _admin.RefuseRevocation = "Only an Admin may do this, and admin@test.local is not one now";
        var cut = _bunit.Render<AdminApiKeys>();

        cut.Find(".revoke-key").Click();
        cut.WaitForElement(".confirm-revoke").Click();

        cut.WaitForAssertion(() => Assert.Contains("is not one now", cut.Find("#key-error").TextContent));
        Assert.Equal("Active", cut.Find(".key-status").TextContent.Trim());
    }

    [Fact]
    public void A_new_user_gets_a_password_shown_once_and_admin_refusals_are_explained()
    {
        var cut = _bunit.Render<AdminUsers>();

        cut.Find("input#user-email").Change("new@test.local");
        cut.Find("input[data-role='Compliance']").Change(true);
        cut.Find("#create-user").Click();

        cut.WaitForAssertion(() => Assert.Equal(FakeAdministration.Password, cut.Find("#new-user-password").TextContent));
        Assert.Contains("new@test.local", cut.Find("#users").TextContent);
        cut.Find("#dismiss-password").Click();
        // MudButton runs its click handler asynchronously: on a busy machine the render comes after Click returns.
        cut.WaitForAssertion(() => Assert.DoesNotContain(FakeAdministration.Password, cut.Markup));

        _admin.Users.Add(new UserSummary("me", "admin@test.local", [Roles.Admin], null, 0));
        var again = _bunit.Render<AdminUsers>();
        again.FindAll(".lock-user")[^1].Click();
        again.WaitForAssertion(() => Assert.Contains("cannot lock your own account", again.Find("#user-error").TextContent));
    }

    [Fact]
    public void Pending_role_requests_offer_approval_only_to_an_admin_other_than_the_requester_and_the_person()
    {
        var mine = new RoleGrantView(Guid.NewGuid(), "u1", "someone@test.local", Roles.RiskOfficer, "admin@test.local", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddDays(1));
        var forMe = new RoleGrantView(Guid.NewGuid(), "u2", "admin@test.local", Roles.RiskOfficer, "other@test.local", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddDays(1));
        var theirs = new RoleGrantView(Guid.NewGuid(), "u3", "third@test.local", Roles.Admin, "other@test.local", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddDays(1));
        _admin.Grants.AddRange([mine, forMe, theirs]);
        var cut = _bunit.Render<AdminUsers>();

        Assert.Equal(3, cut.FindAll(".role-grant").Count);
        Assert.Empty(cut.FindAll($"[data-grant='{mine.Id}'] .approve-grant"));
        Assert.Empty(cut.FindAll($"[data-grant='{forMe.Id}'] .approve-grant"));
        cut.Find($"[data-grant='{theirs.Id}'] .approve-grant").Click();

        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll(".role-grant").Count));
        Assert.Equal((theirs.Id, "admin@test.local"), _admin.Approved.Single());
    }

    [Fact]
    public void Asking_for_a_privileged_role_says_it_waits_for_another_admin()
    {
        var cut = _bunit.Render<AdminUsers>();

        cut.Find("input#user-email").Change("officer@test.local");
        cut.Find("input[data-role='RiskOfficer']").Change(true);
        cut.Find("#create-user").Click();

        cut.WaitForAssertion(() => Assert.Contains("waits for another Admin", cut.Find("#user-notice").TextContent));
    }

    private sealed class FakeAdministration : IPortalAdministration
    {
        public const string Key = "pk_test-key-shown-once";
        public const string Password = "correct horse battery staple";
        public List<ApiKeySummary> Keys { get; } = [];
        public List<UserSummary> Users { get; } = [];
        public List<(string Name, IReadOnlyCollection<string> Scopes, IReadOnlyCollection<string> Strategies, string Actor)> CreatedKeys { get; } = [];
        public List<(string Name, string Actor)> Revoked { get; } = [];

        public Task<IReadOnlyList<UserSummary>> UsersAsync(CancellationToken ct) => Task.FromResult<IReadOnlyList<UserSummary>>(Users.ToList());

        public Task<(UserSummary User, string Password)> CreateUserAsync(string email, IReadOnlyCollection<string> roles, string actor, CancellationToken ct)
        {
            var user = new UserSummary(Guid.NewGuid().ToString(), email, roles.Except(Roles.NeedingApproval).ToList(), null, 0);
            Users.Add(user);
            return Task.FromResult((user, Password));
        }

        public List<RoleGrantView> Grants { get; } = [];
        public List<(Guid Id, string Actor)> Approved { get; } = [];

        public Task<RoleChange> AddRoleAsync(string userId, string role, string actor, CancellationToken ct) =>
            Task.FromResult(Roles.NeedingApproval.Contains(role) ? RoleChange.PendingApproval : RoleChange.Granted);

        public Task<IReadOnlyList<RoleGrantView>> PendingRoleGrantsAsync(CancellationToken ct) => Task.FromResult<IReadOnlyList<RoleGrantView>>(Grants.ToList());

        public Task ApproveRoleGrantAsync(Guid grantId, string actor, CancellationToken ct)
        {
            Approved.Add((grantId, actor));
            Grants.RemoveAll(g => g.Id == grantId);
            return Task.CompletedTask;
        }

        public Task RejectRoleGrantAsync(Guid grantId, string actor, CancellationToken ct)
        {
            Grants.RemoveAll(g => g.Id == grantId);
            return Task.CompletedTask;
        }
        public Task RemoveRoleAsync(string userId, string role, string actor, CancellationToken ct) => Task.CompletedTask;

        public Task LockAsync(string userId, string actor, CancellationToken ct) =>
            Users.Single(u => u.Id == userId).Email == actor ? throw new ArgumentException("You cannot lock your own account.") : Task.CompletedTask;

        public Task UnlockAsync(string userId, string actor, CancellationToken ct) => Task.CompletedTask;

        public Task<IReadOnlyList<ApiKeySummary>> ApiKeysAsync(CancellationToken ct) => Task.FromResult<IReadOnlyList<ApiKeySummary>>(Keys.ToList());

        public Task<(string Key, ApiKeySummary Record)> CreateApiKeyAsync(string name, IReadOnlyCollection<string> scopes, IReadOnlyCollection<string> strategies,
            int? expiresInDays, string actor, CancellationToken ct)
        {
            if (scopes.Count == 0) throw new ArgumentException("Scopes must be one or more of orders, ...");
            CreatedKeys.Add((name, scopes, strategies, actor));
            var record = new ApiKeySummary(Guid.NewGuid(), name, scopes.ToList(), DateTimeOffset.UnixEpoch, null,
                ExpiresAt: expiresInDays is { } days ? DateTimeOffset.UtcNow.AddDays(days) : null);
            Keys.Add(record);
            return Task.FromResult((Key, record));
        }

        public string? RefuseRevocation { get; set; }

        public Task<bool> RevokeApiKeyAsync(string name, string actor, CancellationToken ct)
        {
            if (RefuseRevocation is not null) throw new ArgumentException(RefuseRevocation);
            Revoked.Add((name, actor));
            var index = Keys.FindIndex(k => k.Name == name);
            Keys[index] = Keys[index] with { RevokedAt = DateTimeOffset.UnixEpoch.AddDays(1) };
            return Task.FromResult(true);
        }
    }
}
