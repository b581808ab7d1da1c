using System.Net;
using System.Net.Http.Json;
using Npgsql;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Features.Readiness;
using Portal.Infrastructure.Alpaca;
using Portal.Tests.Features.Audit;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Readiness;

public sealed class PhaseTests
{
    [Fact]
    public async Task Moving_to_small_live_with_a_red_item_is_refused_and_audited()
    {
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?> { ["Readiness:DocsPath"] = ReadinessTestKit.DocsWithAllRunbooks() });
        await portal.SeedPassingEvidenceAsync(TimeSpan.FromMinutes(5), Drills.All.Select(d => d.Id).Where(d => d != Drills.RateBurst).ToArray());
        var officer = await portal.ClientSignedInAsAsync(Roles.RiskOfficer);

        var refused = await officer.PostAsJsonAsync("/api/readiness/phase", new { phase = "small_live", reason = "paper results are good" });

        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        var problem = await refused.JsonAsync();
        Assert.Equal("Send 100 orders/second - rate limit works (red)", Assert.Single(problem.GetProperty("notGreen").EnumerateArray()).GetString());
        Assert.Equal(DeploymentPhase.Paper, (await portal.Get<DeploymentPhaseStore>().LoadAsync(CancellationToken.None)).Phase);
        var audited = Assert.Single(await portal.AuditEventsAsync("deployment_phase.refused"));
        Assert.Equal("small_live", audited.GetProperty("payload").GetProperty("target").GetString());
        Assert.Empty(await portal.AuditEventsAsync("deployment_phase.requested"));

        // Nor can Paper jump straight to Scale Up, green or not.
        await portal.SeedPassingEvidenceAsync(TimeSpan.FromMinutes(1), Drills.RateBurst);
        var skip = await officer.PostAsJsonAsync("/api/readiness/phase", new { phase = "scale_up", reason = "in a hurry" });
        Assert.Equal(HttpStatusCode.Conflict, skip.StatusCode);
    }

    [Fact]
    public async Task All_green_and_a_second_officer_move_to_small_live_audited_with_its_ceilings_in_force_and_live_urls_open()
    {
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?> { ["Readiness:DocsPath"] = ReadinessTestKit.DocsWithAllRunbooks() });
        portal.SetPrice("AAPL", 100m);
        await portal.SeedPassingEvidenceAsync(TimeSpan.FromMinutes(5));
        var proposer = await portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        var approver = await portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        var orders = await portal.ClientWithScopesAsync(Scopes.Orders);
        // Under Paper the seed's $5,000 max order value applies.
        Assert.Equal(HttpStatusCode.Created, (await orders.PostOrderAsync(OrderRequests.Market("before-small-live", 2m))).StatusCode);

        var requested = await proposer.PostAsJsonAsync("/api/readiness/phase", new { phase = "small_live", reason = "four weeks of clean paper trading" });
        Assert.Equal(HttpStatusCode.Accepted, requested.StatusCode);
        var requestId = (await requested.JsonAsync()).GetProperty("request").GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.Conflict, (await proposer.PostAsync($"/api/readiness/phase/requests/{requestId}/approve", null)).StatusCode);
        Assert.Equal(DeploymentPhase.Paper, portal.Get<DeploymentPhaseStore>().Phase);

        var approved = await approver.PostAsync($"/api/readiness/phase/requests/{requestId}/approve", null);

        Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
        var phase = await (await approver.GetAsync("/api/readiness/phase")).JsonAsync();
        Assert.Equal("small_live", phase.GetProperty("current").GetProperty("phase").GetString());
        Assert.Empty(phase.GetProperty("pending").EnumerateArray());
        var changed = Assert.Single(await portal.AuditEventsAsync("deployment_phase.changed")).GetProperty("payload");
        Assert.Equal("paper", changed.GetProperty("from").GetString());
        Assert.Equal("small_live", changed.GetProperty("to").GetString());
        Assert.Equal(requestId, changed.GetProperty("requestId").GetGuid());
        var requester = Assert.Single(await portal.AuditEventsAsync("deployment_phase.requested")).GetProperty("actor").GetString();
        Assert.NotEqual(requester, changed.GetProperty("approvedBy").GetString());

        // Small Live's ceiling: no order above $100.
        var capped = await (await orders.PostOrderAsync(OrderRequests.Market("in-small-live", 2m))).JsonAsync();
        Assert.Equal("MaxOrderValue", capped.GetProperty("reason").GetString());
        Assert.Equal(100m, capped.GetProperty("limit").GetDecimal());

        // The Alpaca adapter lets a live URL through now.
        var inner = new RecordingHandler();
        using (var client = new HttpClient(new LivePhaseGuard(portal.Get<DeploymentPhaseStore>()) { InnerHandler = inner }))
            await client.GetAsync("https://api.alpaca.markets/v2/account");
        Assert.Equal(1, inner.Calls);

        // Back to Paper needs no approval: less risk takes effect at once.
        var down = await proposer.PostAsJsonAsync("/api/readiness/phase", new { phase = "paper", reason = "drawdown review" });
        Assert.Equal(HttpStatusCode.OK, down.StatusCode);
        Assert.Equal(DeploymentPhase.Paper, portal.Get<DeploymentPhaseStore>().Phase);
    }

    [Fact]
    public async Task A_request_made_before_the_phase_changed_cannot_be_approved_after_even_when_the_phase_is_back()
    {
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?> { ["Readiness:DocsPath"] = ReadinessTestKit.DocsWithAllRunbooks() });
        await portal.SeedPassingEvidenceAsync(TimeSpan.FromMinutes(5));
        var proposer = await portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        var approver = await portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        var early = await RequestSmallLiveAsync(proposer, "paper results are good");
        // Another request goes through, then an incident sends the deployment back to Paper.
        Assert.Equal(HttpStatusCode.OK, (await approver.PostAsync($"/api/readiness/phase/requests/{await RequestSmallLiveAsync(proposer, "second try")}/approve", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await approver.PostAsJsonAsync("/api/readiness/phase", new { phase = "paper", reason = "incident: fills at wrong prices" })).StatusCode);

        var stale = await approver.PostAsync($"/api/readiness/phase/requests/{early}/approve", null);

        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        Assert.Contains("changed after this request", (await stale.JsonAsync()).GetProperty("detail").GetString());
        Assert.Equal(DeploymentPhase.Paper, (await portal.Get<DeploymentPhaseStore>().LoadAsync(CancellationToken.None)).Phase);
        Assert.Empty((await (await approver.GetAsync("/api/readiness/phase")).JsonAsync()).GetProperty("pending").EnumerateArray());
        var refusal = Assert.Single(await portal.AuditEventsAsync("deployment_phase.refused")).GetProperty("payload");
        Assert.Equal(early, refusal.GetProperty("requestId").GetGuid());
        Assert.Contains("changed after this request", refusal.GetProperty("reason").GetString());
    }

    /// <summary>
    /// A move down reduces risk and must happen: when another instance changes the phase between this one reading it and
    /// writing it (here a promotion to Scale Up committing at that moment), the move is made from the phase now in force.
    /// It used to change nothing and report "Moved down".
    /// </summary>
    [Fact]
    public async Task A_move_down_racing_a_promotion_still_ends_in_the_lower_phase()
    {
        await using var portal = await PortalFactory.StartAsync();
        await AuditTestKit.ExecAsync(portal.Superuser(), "update deployment_phase set phase = 'small_live', version = version + 1 where id = 1");
        await using var other = new NpgsqlConnection(portal.AppConnectionString);
        await other.OpenAsync();
        var promotion = await other.BeginTransactionAsync();
        await using (var promote = new NpgsqlCommand("update deployment_phase set phase = 'scale_up', version = version + 1 where id = 1", other, promotion))
            await promote.ExecuteNonQueryAsync();

        var moveDown = portal.Get<PhaseChanges>().RequestAsync(DeploymentPhase.Paper, "incident: fills at wrong prices", "oncall@test.local", CancellationToken.None);
        await Poll.UntilAsync(async () => await OrderRequests.ScalarAsync(portal.AppConnectionString,
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like 'update deployment_phase%'") == 1, "the move down waits for the row");
        await promotion.CommitAsync();
        var outcome = await moveDown;

        Assert.Equal(PhaseChangeStatus.Changed, outcome.Status);
        Assert.Equal(DeploymentPhase.Paper, (await portal.Get<DeploymentPhaseStore>().LoadAsync(CancellationToken.None)).Phase);
        var changed = Assert.Single(await portal.AuditEventsAsync("deployment_phase.changed")).GetProperty("payload");
        Assert.Equal(("scale_up", "paper"), (changed.GetProperty("from").GetString(), changed.GetProperty("to").GetString()));
    }

    private static async Task<Guid> RequestSmallLiveAsync(HttpClient officer, string reason)
    {
        var requested = await officer.PostAsJsonAsync("/api/readiness/phase", new { phase = "small_live", reason });
        Assert.Equal(HttpStatusCode.Accepted, requested.StatusCode);
        return (await requested.JsonAsync()).GetProperty("request").GetProperty("id").GetGuid();
    }

    [Fact]
    public async Task The_alpaca_adapter_refuses_live_urls_in_the_paper_phase()
    {
        await using var portal = await PortalFactory.StartAsync();
        var inner = new RecordingHandler();
        using var client = new HttpClient(new LivePhaseGuard(portal.Get<DeploymentPhaseStore>()) { InnerHandler = inner });

        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("https://api.alpaca.markets/v2/account"));

        Assert.Contains("deployment phase is Paper", refused.Message);
        Assert.Equal(0, inner.Calls);
        await client.GetAsync(AlpacaOptions.PaperUrl + "/v2/account");
        Assert.Equal(1, inner.Calls);
        // Market data carries prices, not orders: read in every phase.
        await client.GetAsync(AlpacaOptions.MarketDataRestDefault + "/v2/stocks/bars/latest?symbols=AAPL&feed=iex");
        Assert.Equal(2, inner.Calls);
    }

    private sealed class RecordingHandler : HttpMessageHandler
    {
        public int Calls { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Calls++;
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK));
        }
    }
}
