using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Portal.Features.Admin;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Tests.Features.Audit;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Admin;

/// <summary>
/// Four-eyes on privilege: granting RiskOfficer or Admin is a request another, existing Admin approves. Nobody approves a
/// grant to themselves or their own request, so an Admin cannot make themselves (or an account they made) a RiskOfficer.
/// </summary>
public sealed class RoleGrantTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;
    private IPortalAdministration _admin = null!;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync();
        _admin = _portal.Get<IPortalAdministration>();
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    private async Task<UserSummary> UserAsync(string email) =>
        (await _admin.UsersAsync(CancellationToken.None)).Single(u => string.Equals(u.Email, email, StringComparison.OrdinalIgnoreCase));

    private async Task<RoleGrantView> PendingForAsync(string email) =>
        (await _admin.PendingRoleGrantsAsync(CancellationToken.None)).Single(g => string.Equals(g.Email, email, StringComparison.OrdinalIgnoreCase));

    private static Task<HttpResponseMessage> ProposeLimitsAsync(HttpClient client) =>
        client.PutAsJsonAsync("/api/limits", new { reason = "self-made officer", limits = new { MaxOrderValueUsd = 1m } });

    [Fact]
    public async Task An_admins_grant_of_risk_officer_to_themselves_stays_pending()
    {
        var self = await _portal.CreateUserAsync(Roles.Admin);
        var id = (await UserAsync(self.Email)).Id;

        Assert.Equal(RoleChange.PendingApproval, await _admin.AddRoleAsync(id, Roles.RiskOfficer, self.Email, CancellationToken.None));

        Assert.DoesNotContain(Roles.RiskOfficer, (await UserAsync(self.Email)).Roles);
        Assert.Equal(HttpStatusCode.Forbidden, (await ProposeLimitsAsync(await _portal.SignInAsync(self))).StatusCode);
        var grant = await PendingForAsync(self.Email);
        Assert.Equal((Roles.RiskOfficer, self.Email), (grant.Role, grant.RequestedBy));
        var requested = Assert.Single(await _portal.EventsAsync("user.role_requested"), e => e.Payload.GetProperty("id").GetString() == id);
        Assert.Equal(self.Email, requested.Actor);
    }

    [Fact]
    public async Task Nobody_approves_a_grant_to_themselves_or_their_own_request_and_a_second_admin_can()
    {
        var self = await _portal.CreateUserAsync(Roles.Admin);
        var id = (await UserAsync(self.Email)).Id;
        await _admin.AddRoleAsync(id, Roles.RiskOfficer, self.Email, CancellationToken.None);
        var grant = await PendingForAsync(self.Email);

        var refused = await Assert.ThrowsAsync<ArgumentException>(() => _admin.ApproveRoleGrantAsync(grant.Id, self.Email, CancellationToken.None));
        Assert.Contains("another Admin", refused.Message);
        // Not an Admin at all (a RiskOfficer, or someone who does not exist): refused.
        var officer = await _portal.CreateUserAsync(Roles.RiskOfficer);
        await Assert.ThrowsAsync<ArgumentException>(() => _admin.ApproveRoleGrantAsync(grant.Id, officer.Email, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(() => _admin.ApproveRoleGrantAsync(grant.Id, "nobody@test.local", CancellationToken.None));
        Assert.DoesNotContain(Roles.RiskOfficer, (await UserAsync(self.Email)).Roles);

        var second = await _portal.CreateUserAsync(Roles.Admin);
        await _admin.ApproveRoleGrantAsync(grant.Id, second.Email, CancellationToken.None);

        Assert.Contains(Roles.RiskOfficer, (await UserAsync(self.Email)).Roles);
        Assert.DoesNotContain(await _admin.PendingRoleGrantsAsync(CancellationToken.None), g => g.Id == grant.Id);
        Assert.Equal(HttpStatusCode.Accepted, (await ProposeLimitsAsync(await _portal.SignInAsync(self))).StatusCode);
        await Assert.ThrowsAsync<ArgumentException>(() => _admin.ApproveRoleGrantAsync(grant.Id, second.Email, CancellationToken.None));
        var approved = Assert.Single(await _portal.EventsAsync("user.role_approved"), e => e.Payload.GetProperty("id").GetString() == id);
        Assert.Equal(second.Email, approved.Actor);
    }

    /// <summary>A request stands on its requester: once they are no longer an Admin (demoted or locked), it cannot be approved.</summary>
    [Fact]
    public async Task A_request_whose_requester_was_demoted_since_cannot_be_approved()
    {
        var requester = await _portal.CreateUserAsync(Roles.Admin);
        var approver = await _portal.CreateUserAsync(Roles.Admin);
        var (sock, _) = await _admin.CreateUserAsync($"sock-{Guid.NewGuid():N}@test.local", [Roles.Admin], requester.Email, CancellationToken.None);
        var grant = await PendingForAsync(sock.Email);

        await _admin.RemoveRoleAsync((await UserAsync(requester.Email)).Id, Roles.Admin, approver.Email, CancellationToken.None);

        var refused = await Assert.ThrowsAsync<ArgumentException>(() => _admin.ApproveRoleGrantAsync(grant.Id, approver.Email, CancellationToken.None));
        Assert.Contains("requested", refused.Message);
        Assert.Empty((await UserAsync(sock.Email)).Roles);
    }

    [Fact]
    public async Task A_second_account_an_admin_creates_is_not_a_risk_officer_until_another_admin_approves()
    {
        var self = await _portal.CreateUserAsync(Roles.Admin);

        var (accomplice, password) = await _admin.CreateUserAsync($"accomplice-{Guid.NewGuid():N}@test.local", [Roles.RiskOfficer], self.Email, CancellationToken.None);

        Assert.DoesNotContain(Roles.RiskOfficer, (await UserAsync(accomplice.Email)).Roles);
        var client = await _portal.SignInAsync(new TestUser(accomplice.Email, password, []));
        Assert.Equal(HttpStatusCode.Forbidden, (await ProposeLimitsAsync(client)).StatusCode);
        // The account is not an Admin either, and its creator asked for the grant: neither may approve it.
        var grant = await PendingForAsync(accomplice.Email);
        await Assert.ThrowsAsync<ArgumentException>(() => _admin.ApproveRoleGrantAsync(grant.Id, accomplice.Email, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(() => _admin.ApproveRoleGrantAsync(grant.Id, self.Email, CancellationToken.None));
        // Nor can a second Admin account made by the same Admin: it too waits for an existing Admin.
        var (sock, _) = await _admin.CreateUserAsync($"sock-{Guid.NewGuid():N}@test.local", [Roles.Admin], self.Email, CancellationToken.None);
        Assert.Empty((await UserAsync(sock.Email)).Roles);
        await Assert.ThrowsAsync<ArgumentException>(() => _admin.ApproveRoleGrantAsync(grant.Id, sock.Email, CancellationToken.None));
        Assert.DoesNotContain(Roles.RiskOfficer, (await UserAsync(accomplice.Email)).Roles);
    }

    [Fact]
    public async Task A_rejected_request_grants_nothing_and_a_second_request_for_the_same_role_is_refused_while_one_waits()
    {
        var admin = await _portal.CreateUserAsync(Roles.Admin);
        var person = await _portal.CreateUserAsync(Roles.OnCall);
        var id = (await UserAsync(person.Email)).Id;
        await _admin.AddRoleAsync(id, Roles.Admin, admin.Email, CancellationToken.None);
        await Assert.ThrowsAsync<ArgumentException>(() => _admin.AddRoleAsync(id, Roles.Admin, admin.Email, CancellationToken.None));

        await _admin.RejectRoleGrantAsync((await PendingForAsync(person.Email)).Id, admin.Email, CancellationToken.None);

        Assert.Equal([Roles.OnCall], (await UserAsync(person.Email)).Roles);
        Assert.DoesNotContain(await _admin.PendingRoleGrantsAsync(CancellationToken.None), g => g.UserId == id);
        Assert.Single(await _portal.EventsAsync("user.role_rejected"), e => e.Payload.GetProperty("id").GetString() == id);
        // OnCall and Compliance take effect at once; removing a role too.
        Assert.Equal(RoleChange.Granted, await _admin.AddRoleAsync(id, Roles.Compliance, admin.Email, CancellationToken.None));
        Assert.Contains(Roles.Compliance, (await UserAsync(person.Email)).Roles);
    }

    [Fact]
    public async Task A_request_not_decided_in_time_expires_and_cannot_be_approved()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var administration = new PortalAdministration(_portal.Get<IServiceScopeFactory>(), _portal.Get<ApiKeyService>(), clock,
            Options.Create(new AdminOptions { RoleGrantExpiry = TimeSpan.FromHours(1) }));
        var requester = await _portal.CreateUserAsync(Roles.Admin);
        var approver = await _portal.CreateUserAsync(Roles.Admin);
        var person = await _portal.CreateUserAsync(Roles.OnCall);
        var id = (await UserAsync(person.Email)).Id;
        await administration.AddRoleAsync(id, Roles.RiskOfficer, requester.Email, CancellationToken.None);
        var grant = (await administration.PendingRoleGrantsAsync(CancellationToken.None)).Single(g => g.UserId == id);
        Assert.Equal(clock.GetUtcNow().AddHours(1), grant.ExpiresAt, TimeSpan.FromMilliseconds(1));

        clock.Advance(TimeSpan.FromHours(1));

        await Assert.ThrowsAsync<ArgumentException>(() => administration.ApproveRoleGrantAsync(grant.Id, approver.Email, CancellationToken.None));
        Assert.DoesNotContain(await administration.PendingRoleGrantsAsync(CancellationToken.None), g => g.Id == grant.Id);
        Assert.DoesNotContain(Roles.RiskOfficer, (await UserAsync(person.Email)).Roles);
        Assert.Single(await _portal.EventsAsync("user.role_expired"), e => e.Payload.GetProperty("id").GetString() == id);
        // Expired, so it may be asked for again.
        Assert.Equal(RoleChange.PendingApproval, await administration.AddRoleAsync(id, Roles.RiskOfficer, requester.Email, CancellationToken.None));
    }

    [Theory]
    [InlineData("00:04:59")]
    [InlineData("8.00:00:00")]
    public void The_expiry_is_validated(string expiry)
    {
        var result = new AdminOptionsValidator().Validate(null, new AdminOptions { RoleGrantExpiry = TimeSpan.Parse(expiry, System.Globalization.CultureInfo.InvariantCulture) });
        Assert.True(result.Failed);
        Assert.Contains("Admin:RoleGrantExpiry", result.FailureMessage);
    }
}
