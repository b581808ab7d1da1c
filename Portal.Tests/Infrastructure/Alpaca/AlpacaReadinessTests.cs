using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Portal.Features.Identity;
using Portal.Features.Readiness;
using Portal.Infrastructure;
using Portal.Jobs.Readiness;
using Portal.Tests.Features.Readiness;
using Xunit.Abstractions;

namespace Portal.Tests.Infrastructure.Alpaca;

/// <summary>
/// The go-live path with the Alpaca paper broker (issue #18): every drill passes against the fake Alpaca through the real
/// paths (the network-loss drill cuts the sockets to Alpaca), the checklist turns green, and the phase can be raised from
/// Paper to Small Live to Scale Up.
/// </summary>
public sealed class AlpacaReadinessTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string ScrapeToken = "alpaca-readiness-scrape-token-0123456789";

    private FakeAlpacaServer _alpaca = null!;
    private PortalFactory _portal = null!;

    public async Task InitializeAsync()
    {
        _alpaca = await FakeAlpacaServer.StartAsync();
        _alpaca.SetPrice("AAPL", 100m);
        var settings = AlpacaTestHost.Settings(_alpaca);
        settings["Readiness:DocsPath"] = ReadinessTestKit.DocsWithAllRunbooks();
        settings["Metrics:ScrapeToken"] = ScrapeToken;
        _portal = await PortalFactory.StartAsync(settings);
        _portal.SetPrice("AAPL", 100m);
    }

    public async Task DisposeAsync()
    {
        await _portal.DisposeAsync();
        await _alpaca.DisposeAsync();
    }

    [Fact]
    public async Task Every_drill_passes_against_Alpaca_and_the_phase_is_raised_to_scale_up()
    {
        await _portal.Get<ReadinessDrillJob>().RunAsync(CancellationToken.None);

        var checklist = await _portal.Get<Checklist>().ComputeAsync(CancellationToken.None);
        foreach (var item in checklist.Items)
            output.WriteLine($"{item.Key}: {item.Status} {item.Evidence?.Summary}");
        Assert.True(checklist.AllGreen, string.Join("; ", checklist.NotGreen.Select(i => $"{i.Key}: {i.Evidence?.Summary ?? i.Status.ToString()}")));

        // The rate burst's accepted orders reached Alpaca and were cancelled there, not left resting.
        var burst = Assert.Single(checklist.Items, i => i.Key == "rate-limit").Evidence!;
        Assert.Equal(burst.Figures["accepted"], burst.Figures["cancelledAfter"]);
        Assert.Equal(int.Parse(burst.Figures["accepted"], System.Globalization.CultureInfo.InvariantCulture),
            _alpaca.Orders.Count(o => o.ClientOrderId.StartsWith("drill-", StringComparison.Ordinal) && o.Status == "canceled"));
        Assert.DoesNotContain(_alpaca.Orders, o => o.Status is "new" or "accepted" or "partially_filled");
        // The network-loss drill cut the sockets to Alpaca, and Portal connected again.
        var cable = Assert.Single(checklist.Items, i => i.Key == "network-cable").Evidence!;
        Assert.Equal("broker (alpaca)", cable.Figures["connectionCut"]);
        Assert.False(_portal.Services.GetRequiredKeyedService<ConnectionCut>(ConnectionCut.Broker).IsCut);

        var proposer = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        var approver = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        foreach (var target in new[] { "small_live", "scale_up" })
        {
            var requested = await proposer.PostAsJsonAsync("/api/readiness/phase", new { phase = target, reason = "the checklist is green with Alpaca" });
            Assert.Equal(HttpStatusCode.Accepted, requested.StatusCode);
            var requestId = (await requested.JsonAsync()).GetProperty("request").GetProperty("id").GetGuid();
            Assert.Equal(HttpStatusCode.OK, (await approver.PostAsync($"/api/readiness/phase/requests/{requestId}/approve", null)).StatusCode);
        }
        Assert.Equal(DeploymentPhase.ScaleUp, (await _portal.Get<DeploymentPhaseStore>().LoadAsync(CancellationToken.None)).Phase);
    }
}
