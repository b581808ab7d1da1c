using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Features.Live;
using Portal.Features.ModelDrift;
using Portal.Features.ModelDrift.Pages;
using Portal.Tests.Infrastructure;
using static Portal.Tests.Features.ModelDrift.ObservationBatches;

namespace Portal.Tests.Features.ModelDrift;

/// <summary>The drift page rendered with bUnit over results the real check stored in Postgres.</summary>
public sealed class DriftPageTests : IAsyncLifetime
{
    private const string Model = "page-model";
    private PortalFactory _portal = null!;

    // Composed, not inherited: MudBlazor's services dispose only asynchronously, and xunit 2 disposes test classes synchronously.
    private readonly BunitContext _bunit = new();

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync();
        var client = await _portal.ClientWithScopesAsync(Scopes.Observations);
        var now = _portal.Get<TimeProvider>().GetUtcNow();
        await client.PostAllAsync(Normals(new Random(5), Model, 800, now.AddHours(-3)));
        await _portal.Get<ModelDriftService>().PinBaselineAsync(new BaselineRequest(Model, "v1", null, null, 800, "launch week"), "officer", CancellationToken.None);
        await client.PostAllAsync(Normals(new Random(6), Model, 800, now.AddMinutes(-61), shiftOfA: 1.0));
        await _portal.Get<ModelDriftService>().CheckAsync(Model, "officer", CancellationToken.None);

        _bunit.Services.AddMudServices();
        _bunit.JSInterop.Mode = JSRuntimeMode.Loose;
        _bunit.Services.AddSingleton(_portal.Get<ModelDriftStore>());
        _bunit.Services.AddSingleton(_portal.Get<ModelDriftService>());
        _bunit.Services.AddSingleton(_portal.Get<OpsEventBus>());
        _bunit.Services.AddSingleton(_portal.Get<TimeProvider>());
    }

    public async Task DisposeAsync()
    {
        await _bunit.DisposeAsync();
        await _portal.DisposeAsync();
    }

    [Fact]
    public void Stored_results_render_sorted_by_D_with_status_and_the_first_features_charts_for_any_staff_member()
    {
        _bunit.AddAuthorization().SetAuthorized("compliance@test.local");

        var cut = _bunit.Render<DriftPage>();

        cut.WaitForAssertion(() => Assert.Equal(4, cut.FindAll("#drift-table tbody tr").Count), TimeSpan.FromSeconds(10));
        var rows = cut.FindAll("#drift-table tbody tr");
        Assert.Equal("a", rows[0].QuerySelector("[data-name]")!.TextContent);
        Assert.Equal("Drifted", rows[0].QuerySelector(".drift-status")!.TextContent.Trim());
        Assert.All(rows.Skip(1), row => Assert.NotEqual("Drifted", row.QuerySelector(".drift-status")!.TextContent.Trim()));
        Assert.Equal("true", cut.Find("#run-summary").GetAttribute("data-drifted"));
        Assert.Contains("first 800 observations of version v1", cut.Find("#baseline-summary").TextContent);
        Assert.NotNull(cut.Find("#ecdf-chart svg"));
        Assert.NotNull(cut.Find("#d-history svg"));
        Assert.Empty(cut.FindAll("#run-check"));
    }

    [Fact]
    public void A_RiskOfficer_runs_a_check_from_the_page_and_the_page_shows_the_new_run()
    {
        _bunit.AddAuthorization().SetAuthorized("officer@test.local").SetPolicies(Policies.RiskOfficer, Policies.AnyStaff);
        var cut = _bunit.Render<DriftPage>();
        // The button shows before the baseline and the first run have loaded, and is disabled until then: a click on it would do nothing.
        cut.WaitForAssertion(() =>
        {
            Assert.Null(cut.Find("#run-check").GetAttribute("disabled"));
            Assert.Contains("Check #", cut.Find("#run-summary").TextContent);
        }, TimeSpan.FromSeconds(10));
        var firstRun = cut.Find("#run-summary").TextContent;

        cut.Find("#run-check").Click();

        cut.WaitForAssertion(() =>
        {
            Assert.NotEqual(firstRun, cut.Find("#run-summary").TextContent);
            Assert.Contains("officer@test.local", cut.Find("#run-summary").TextContent);
        }, TimeSpan.FromSeconds(30)); // a drift check is real statistics over the stored features
    }

    [Fact]
    public async Task The_D_history_is_fetched_for_the_chosen_range_on_a_0_to_1_axis_against_UTC_time()
    {
        // A second stored run, finished two days ago: in the week, not in the day.
        var store = _portal.Get<ModelDriftStore>();
        var latest = (await store.LatestRunAsync(Model, CancellationToken.None))!;
        var now = _portal.Get<TimeProvider>().GetUtcNow();
        await store.InsertRunAsync(latest with { StartedAt = now.AddDays(-2), FinishedAt = now.AddDays(-2) }, CancellationToken.None);
        _bunit.AddAuthorization().SetAuthorized("compliance@test.local");

        var cut = _bunit.Render<DriftPage>();

        cut.WaitForAssertion(() => Assert.Equal("2", cut.Find("#d-history").GetAttribute("data-points")), TimeSpan.FromSeconds(10));
        var history = cut.FindComponents<MudChart<double>>().Single(c => c.Instance.ChartType == ChartType.Timeseries).Instance;
        var options = Assert.IsType<TimeSeriesChartOptions>(history.ChartOptions);
        Assert.Equal(1, options.YAxisTicks);
        Assert.Equal(1d, options.YAxisSuggestedMax);
        Assert.Equal("Time (UTC)", options.XAxisTitle);
        Assert.Contains("UTC", options.TooltipTimeLabelFormat);
        Assert.All(history.ChartSeries.Single().Data.Values, d => Assert.InRange(d, 0d, 1d));
        var ecdf = cut.FindComponents<MudChart<double>>().Single(c => c.Instance.ChartType == ChartType.Line).Instance;
        Assert.Equal(1d, Assert.IsType<LineChartOptions>(ecdf.ChartOptions).YAxisSuggestedMax);
        Assert.DoesNotContain(">20<", cut.Find("#d-history").InnerHtml);

        cut.Find("#d-history-range [data-range='1d']").Click();
        cut.WaitForAssertion(() => Assert.Equal("1", cut.Find("#d-history").GetAttribute("data-points")), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Times_show_their_zone_and_the_pin_window_takes_24_hour_UTC_times_with_an_error_for_anything_else()
    {
        _bunit.AddAuthorization().SetAuthorized("officer@test.local").SetPolicies(Policies.RiskOfficer, Policies.AnyStaff);
        var cut = _bunit.Render<DriftPage>();
        cut.WaitForAssertion(() => Assert.Contains("Check #", cut.Find("#run-summary").TextContent), TimeSpan.FromSeconds(10));
        Assert.Matches(@"Check #\d+ at \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC by officer", cut.Find("#run-summary").TextContent);
        Assert.Matches(@"pinned by officer at \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", cut.Find("#baseline-summary").TextContent);

        cut.Find("#pin-panel .mud-expand-panel-header").Click();
        cut.WaitForElement("#pin-mode");
        cut.FindAll("#pin-mode input[type='radio']")[1].Click();
        var from = cut.WaitForElement("input#pin-from");

        Assert.Contains("From (UTC, yyyy-MM-dd HH:mm)", cut.Find("#pin-panel").TextContent);
        from.Change("12/06/2026 2:30 PM");
        cut.WaitForAssertion(() => Assert.Contains("Type a UTC time as yyyy-MM-dd HH:mm (24-hour)", cut.Find("#pin-panel").TextContent));

        cut.Find("input#pin-from").Change("2026-12-06 14:30");
        cut.WaitForAssertion(() => Assert.DoesNotContain("Type a UTC time", cut.Find("#pin-panel").TextContent));
    }
}
