using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Features.Limits;
using Portal.Infrastructure.Postgres;
using Portal.Tests.Features.Audit;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Limits;

public sealed class LimitsApiTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync();
        _portal.SetPrice("AAPL", 100m);
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task A_lowered_limit_from_a_key_waits_for_a_risk_officer_and_is_enforced_once_approved()
    {
        var admin = await _portal.ClientWithOwnedKeyAsync("key-owner@test.local", Scopes.Limits);
        var orders = await _portal.ClientWithScopesAsync(Scopes.Orders);

        var put = await admin.PutAsJsonAsync("/api/limits", new { reason = "tighten for test", limits = new { MaxOrderValueUsd = 250m } });
        Assert.Equal(HttpStatusCode.Accepted, put.StatusCode);
        var pending = await put.JsonAsync();
        Assert.Equal("pending", pending.GetProperty("state").GetString());
        Assert.Equal(HttpStatusCode.Created, (await orders.PostOrderAsync(OrderRequests.Market("before-approval", 3m))).StatusCode);

        var officer = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        var approve = await officer.PostAsync($"/api/limits/pending/{pending.GetProperty("version").GetInt64()}/approve", null);
        Assert.Equal(HttpStatusCode.OK, approve.StatusCode);
        Assert.Equal(250m, (await (await admin.GetAsync("/api/limits")).JsonAsync()).GetProperty("limits").GetProperty("maxOrderValueUsd").GetDecimal());

        var refused = await orders.PostOrderAsync(OrderRequests.Market("after-change", 3m));
        Assert.Equal("MaxOrderValue", (await refused.JsonAsync()).GetProperty("reason").GetString());
        Assert.Equal(HttpStatusCode.Created, (await orders.PostOrderAsync(OrderRequests.Market("within", 2m))).StatusCode);

        var history = await (await admin.GetAsync("/api/limits/history")).JsonAsync();
        Assert.Equal(2, history.GetArrayLength());
        Assert.Equal("tighten for test", history[0].GetProperty("reason").GetString());
        Assert.Equal("active", history[0].GetProperty("state").GetString());
        Assert.Equal("superseded", history[1].GetProperty("state").GetString());
    }

    [Fact]
    public async Task The_proposer_cannot_approve_their_own_change_but_another_officer_can()
    {
        var proposer = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        var version = await ProposeAsync(proposer, 300m);

        var own = await proposer.PostAsync($"/api/limits/pending/{version}/approve", null);
        Assert.Equal(HttpStatusCode.Forbidden, own.StatusCode);
        Assert.Contains("another RiskOfficer", (await own.JsonAsync()).GetProperty("detail").GetString());

        var second = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        var approved = await (await second.PostAsync($"/api/limits/pending/{version}/approve", null)).JsonAsync();
        Assert.Equal("active", approved.GetProperty("state").GetString());
        Assert.NotEqual(approved.GetProperty("proposedBy").GetString(), approved.GetProperty("approvedBy").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await second.PostAsync($"/api/limits/pending/{version}/approve", null)).StatusCode);
    }

    [Fact]
    public async Task A_change_proposed_with_a_key_cannot_be_approved_by_the_keys_owner()
    {
        // One person who is both Admin and RiskOfficer makes a limits key on the admin page: they own it.
        var owner = await _portal.CreateUserAsync(Roles.Admin, Roles.RiskOfficer);
        var (key, _) = await _portal.Get<Portal.Features.Admin.IPortalAdministration>().CreateApiKeyAsync(
            "owned-" + Guid.NewGuid().ToString("N")[..8], [Scopes.Limits], [], null, owner.Email, CancellationToken.None);
        var bot = _portal.CreateClient();
        bot.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        var version = await ProposeAsync(bot, 350m);

        var own = await (await _portal.SignInAsync(owner)).PostAsync($"/api/limits/pending/{version}/approve", null);

        Assert.Equal(HttpStatusCode.Forbidden, own.StatusCode);
        var second = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        var pending = (await (await second.GetAsync("/api/limits/pending")).JsonAsync())[0];
        Assert.Equal("pending", pending.GetProperty("state").GetString());
        Assert.StartsWith("apikey:", pending.GetProperty("proposedBy").GetString());
        Assert.Equal(owner.Email, pending.GetProperty("keyOwner").GetString());
        Assert.Equal(HttpStatusCode.OK, (await second.PostAsync($"/api/limits/pending/{version}/approve", null)).StatusCode);
    }

    [Fact]
    public async Task A_key_without_an_owner_cannot_propose_a_change_and_nothing_is_recorded()
    {
        var ownerless = await _portal.ClientWithScopesAsync(Scopes.Limits);

        var response = await ownerless.PutAsJsonAsync("/api/limits", new { reason = "who answers for this?", limits = new { MaxOrderValueUsd = 300m } });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("owner", (await response.JsonAsync()).GetProperty("detail").GetString());
        Assert.Empty((await (await ownerless.GetAsync("/api/limits/pending")).JsonAsync()).EnumerateArray());
    }

    [Fact]
    public async Task A_rejected_change_never_takes_effect()
    {
        var proposer = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        var before = _portal.Get<LimitStore>().Current!.Limits.MaxOrderValueUsd;
        var version = await ProposeAsync(proposer, 100m);

        var second = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        var reject = await (await second.PostAsync($"/api/limits/pending/{version}/reject", null)).JsonAsync();

        Assert.Equal("rejected", reject.GetProperty("state").GetString());
        Assert.Equal(before, _portal.Get<LimitStore>().Current!.Limits.MaxOrderValueUsd);
        Assert.Empty((await (await proposer.GetAsync("/api/limits/pending")).JsonAsync()).EnumerateArray());
    }

    [Fact]
    public async Task Approval_validates_again_against_the_ceilings_in_force_now()
    {
        // A proposal made while the ceiling was higher: stored as it was, above today's ceiling of 10000.
        var limits = _portal.Get<LimitStore>().Current!.Limits with { MaxOrderValueUsd = 20_000m };
        await using (var db = await _portal.Get<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync())
        {
            db.LimitVersions.Add(new LimitVersion
            {
                LimitsJson = JsonSerializer.Serialize(limits), State = LimitStates.Pending, Reason = "under the old ceiling",
                ProposedBy = "someone-else@test.local", ProposedAt = _portal.Get<TimeProvider>().GetUtcNow(),
            });
            await db.SaveChangesAsync();
        }
        var officer = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        var version = (await (await officer.GetAsync("/api/limits/pending")).JsonAsync())[0].GetProperty("version").GetInt64();

        var response = await officer.PostAsync($"/api/limits/pending/{version}/approve", null);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("ceiling", (await response.JsonAsync()).GetProperty("errors").GetProperty("limits.maxOrderValueUsd")[0].GetString());
        Assert.NotEqual(20_000m, _portal.Get<LimitStore>().Current!.Limits.MaxOrderValueUsd);
    }

    [Theory]
    [InlineData(Roles.OnCall)]
    [InlineData(Roles.Compliance)]
    [InlineData(Roles.Admin)]
    public async Task Only_risk_officers_propose_approve_or_reject(string role)
    {
        var version = await ProposeAsync(await _portal.ClientSignedInAsAsync(Roles.RiskOfficer), 400m);
        var other = await _portal.ClientSignedInAsAsync(role);

        Assert.Equal(HttpStatusCode.Forbidden, (await other.PutAsJsonAsync("/api/limits", new { reason = "x", limits = new { MaxOrderValueUsd = 1m } })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await other.PostAsync($"/api/limits/pending/{version}/approve", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await other.PostAsync($"/api/limits/pending/{version}/reject", null)).StatusCode);
    }

    [Fact]
    public async Task A_proposal_built_on_limits_replaced_since_cannot_be_approved_whatever_the_instances_clocks_say()
    {
        var staleVersion = await ProposeAsync(await _portal.ClientSignedInAsAsync(Roles.RiskOfficer), 300m);
        var otherVersion = await ProposeAsync(await _portal.ClientSignedInAsAsync(Roles.RiskOfficer), 320m);
        var approver = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        Assert.Equal(HttpStatusCode.OK, (await approver.PostAsync($"/api/limits/pending/{otherVersion}/approve", null)).StatusCode);
        // The first was proposed on an instance whose clock runs an hour ahead: by the clocks, it came after that approval.
        await AuditTestKit.ExecAsync(_portal.Superuser(), "update limit_versions set proposed_at = now() + interval '1 hour' where version = $1", staleVersion);

        var approve = await approver.PostAsync($"/api/limits/pending/{staleVersion}/approve", null);

        Assert.Equal(HttpStatusCode.Conflict, approve.StatusCode);
        Assert.Contains("put in force after", (await approve.JsonAsync()).GetProperty("detail").GetString());
        Assert.Equal(320m, _portal.Get<LimitStore>().Current!.Limits.MaxOrderValueUsd);
    }

    [Fact]
    public async Task Without_approval_a_change_built_on_limits_replaced_since_is_refused_and_changes_nothing()
    {
        var store = _portal.Get<LimitStore>();
        var read = store.Current!;
        var first = await store.ChangeAsync(read.Limits with { MaxOrderValueUsd = 400m }, read.Version, "one officer's change", "one@test.local", CancellationToken.None);
        Assert.Equal(LimitDecisionStatus.Done, first.Status);

        // Another officer, on an instance that had not yet heard of the first change, changes another limit.
        var second = await store.ChangeAsync(read.Limits with { MaxOrderQuantity = 50m }, read.Version, "what they read before", "other@test.local", CancellationToken.None);

        Assert.Equal(LimitDecisionStatus.Stale, second.Status);
        Assert.Equal(first.Version!.Version, store.Current!.Version);
        var history = await store.HistoryAsync(10, CancellationToken.None);
        Assert.Equal([first.Version.Version, read.Version], history.Select(v => v.Version));
        Assert.Equal(["active", "superseded"], history.Select(v => v.State));
    }

    [Fact]
    public async Task Without_approval_a_change_is_in_force_at_once_and_replaces_the_one_before()
    {
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?> { [LimitsApi.RequireApprovalKey] = "false" });
        var officer = await portal.ClientSignedInAsAsync(Roles.RiskOfficer);

        var put = await officer.PutAsJsonAsync("/api/limits", new { reason = "single-person desk", limits = new { MaxOrderValueUsd = 450m } });

        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(450m, (await put.JsonAsync()).GetProperty("limits").GetProperty("maxOrderValueUsd").GetDecimal());
        Assert.Equal(450m, portal.Get<LimitStore>().Current!.Limits.MaxOrderValueUsd);
        var history = await (await officer.GetAsync("/api/limits/history")).JsonAsync();
        Assert.Equal(["active", "superseded"], history.EnumerateArray().Select(v => v.GetProperty("state").GetString()));
    }

    /// <summary>
    /// A session keeps the roles it signed in with until it is checked again: every request by a person is checked against
    /// Postgres (it was every five minutes, so a demoted officer could approve with the session they held).
    /// </summary>
    [Fact]
    public async Task A_risk_officer_whose_role_was_removed_cannot_approve_with_the_session_they_still_hold()
    {
        var version = await ProposeAsync(await _portal.ClientSignedInAsAsync(Roles.RiskOfficer), 400m);
        var officer = await _portal.CreateUserAsync(Roles.RiskOfficer);
        var session = await _portal.SignInAsync(officer);
        Assert.Equal(HttpStatusCode.OK, (await session.GetAsync("/api/limits/pending")).StatusCode);
        var admin = await _portal.CreateUserAsync(Roles.Admin);
        var administration = _portal.Get<Portal.Features.Admin.IPortalAdministration>();
        var id = (await administration.UsersAsync(CancellationToken.None)).Single(u => u.Email == officer.Email).Id;
        await administration.RemoveRoleAsync(id, Roles.RiskOfficer, admin.Email, CancellationToken.None);

        var approve = await session.PostAsync($"/api/limits/pending/{version}/approve", null);

        Assert.Equal(HttpStatusCode.Unauthorized, approve.StatusCode);
        Assert.Equal(LimitStates.Pending, (await _portal.Get<LimitStore>().HistoryAsync(10, CancellationToken.None)).Single(v => v.Version == version).State);
    }

    private static async Task<long> ProposeAsync(HttpClient officer, decimal maxOrderValueUsd)
    {
        var put = await officer.PutAsJsonAsync("/api/limits", new { reason = "four eyes", limits = new { MaxOrderValueUsd = maxOrderValueUsd } });
        Assert.Equal(HttpStatusCode.Accepted, put.StatusCode);
        return (await put.JsonAsync()).GetProperty("version").GetInt64();
    }

    [Fact]
    public async Task Values_above_a_ceiling_or_out_of_range_get_400_naming_each_field_and_change_nothing()
    {
        var admin = await _portal.ClientWithScopesAsync(Scopes.Limits);
        var before = await (await admin.GetAsync("/api/limits")).JsonAsync();

        var response = await admin.PutAsJsonAsync("/api/limits", new
        {
            reason = "bad",
            limits = new { MaxOrderValueUsd = 1_000_000m, MaxDrawdownPct = -0.1m, MaxOpenPositions = 2.5m, Unknown = 1 },
        });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.JsonAsync()).GetProperty("errors");
        Assert.Contains("ceiling", errors.GetProperty("limits.maxOrderValueUsd")[0].GetString());
        Assert.True(errors.TryGetProperty("limits.unknown", out _));
        var after = await (await admin.GetAsync("/api/limits")).JsonAsync();
        Assert.Equal(before.GetProperty("version").GetInt64(), after.GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task Changing_limits_needs_the_limits_scope()
    {
        var orders = await _portal.ClientWithScopesAsync(Scopes.Orders);
        var response = await orders.PutAsJsonAsync("/api/limits", new { reason = "x", limits = new { MaxOrderValueUsd = 1m } });
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }
}
