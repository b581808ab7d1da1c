using System.Net;
using System.Net.Http.Json;
using Portal.Domain.Trading;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Halt;

/// <summary>Four-eyes resume (issue #15): a request answers one halt, expires, is alone for its scope, and can be rejected.</summary>
public sealed class ResumeRequestTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;
    private HttpClient _pager = null!;
    private HttpClient _first = null!;
    private HttpClient _second = null!;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync(new Dictionary<string, string?> { ["TradingState:ResumeRequestExpiry"] = "00:00:02" });
        _portal.SetPrice("AAPL", 100m);
        _pager = await _portal.ClientWithScopesAsync(Scopes.Halt);
        _first = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        _second = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    private async Task HaltAsync(string? strategyId = null) =>
        (await _pager.PostAsJsonAsync("/api/emergency/stop", new { reason = "test halt", mode = "halt", strategyId })).EnsureSuccessStatusCode();

    private async Task<Guid> RequestAsync(HttpClient officer, string? strategyId = null)
    {
        var response = await officer.PostAsJsonAsync("/api/emergency/resume", new { reason = "all clear", strategyId });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.JsonAsync()).GetProperty("request").GetProperty("id").GetGuid();
    }

    private static async Task AssertConflictAsync(HttpResponseMessage response, string? detailContains = null)
    {
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        if (detailContains is not null) Assert.Contains(detailContains, (await response.JsonAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    private TradingMode Mode(string strategyId = "any") => _portal.Get<TradingStateStore>().ModeFor(strategyId);

    [Fact]
    public async Task Approving_a_request_after_a_newer_halt_of_its_scope_is_409_and_the_halt_stays()
    {
        await HaltAsync();
        var requestId = await RequestAsync(_first);
        await HaltAsync();

        await AssertConflictAsync(await _second.PostAsync($"/api/emergency/resume/{requestId}/approve", null));

        Assert.Equal(TradingMode.Halted, Mode());
        Assert.Equal(1, await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select count(*) from trading_state where scope = 'global' and mode = 'halted'"));
    }

    [Fact]
    public async Task An_expired_request_cannot_be_approved()
    {
        await HaltAsync();
        var requestId = await RequestAsync(_first);
        await Poll.UntilAsync(async () => (await _portal.Get<KillSwitch>().PendingResumesAsync(CancellationToken.None)).All(r => r.Id != requestId),
            "the request has expired");

        await AssertConflictAsync(await _second.PostAsync($"/api/emergency/resume/{requestId}/approve", null));

        Assert.Equal(TradingMode.Halted, Mode());
    }

    [Fact]
    public async Task A_second_request_for_the_same_scope_is_409_naming_the_pending_one_while_another_scope_may_have_its_own()
    {
        await HaltAsync("s1");
        await HaltAsync("s2");
        var pending = await RequestAsync(_first, "s1");

        await AssertConflictAsync(await _second.PostAsJsonAsync("/api/emergency/resume", new { reason = "me too", strategyId = "s1" }), pending.ToString());

        await RequestAsync(_second, "s2");
        Assert.Equal(2, await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select count(*) from resume_requests where state = 'pending'"));
    }

    [Fact]
    public async Task A_rejected_request_cannot_be_approved_and_only_a_RiskOfficer_may_reject()
    {
        await HaltAsync();
        var requestId = await RequestAsync(_first);
        var onCall = await _portal.ClientSignedInAsAsync(Roles.OnCall);
        Assert.Equal(HttpStatusCode.Forbidden, (await onCall.PostAsync($"/api/emergency/resume/{requestId}/reject", null)).StatusCode);
        // Rejecting is for people only: a key's identity does not count for that policy.
        Assert.Contains((await _pager.PostAsync($"/api/emergency/resume/{requestId}/reject", null)).StatusCode, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden });

        Assert.Equal(HttpStatusCode.OK, (await _second.PostAsync($"/api/emergency/resume/{requestId}/reject", null)).StatusCode);

        await AssertConflictAsync(await _second.PostAsync($"/api/emergency/resume/{requestId}/approve", null));
        Assert.Equal(TradingMode.Halted, Mode());
        Assert.Equal(1, await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select count(*) from resume_requests where state = 'rejected'"));
        await Poll.UntilAsync(async () => await OrderRequests.ScalarAsync(_portal.AppConnectionString,
            "select count(*) from audit_events where type = 'trading.resume_rejected'") == 1, "the rejection is audited");
        // With the request rejected, a new one may be made for the scope.
        await RequestAsync(_first);
    }

    [Fact]
    public async Task A_request_is_committed_with_its_audit_record_and_names_the_halt_it_answers()
    {
        await HaltAsync();
        var haltVersion = await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select version from trading_state where scope = 'global'");

        var requestId = await RequestAsync(_first);

        Assert.Equal(1, await OrderRequests.ScalarAsync(_portal.AppConnectionString,
            "select count(*) from resume_requests where id = $1 and halt_version = $2", requestId, haltVersion));
        Assert.Equal(1, await OrderRequests.ScalarAsync(_portal.AppConnectionString,
            "select count(*) from audit_events where type = 'trading.resume_requested' and payload->>'requestId' = $1", requestId.ToString()));
    }
}
