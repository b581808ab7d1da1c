using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MudBlazor;
using MudBlazor.Services;
using Microsoft.Extensions.Logging.Abstractions;
using Portal.Features.Dashboard;
using Portal.Features.Risk;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Dashboard;

/// <summary>The dashboard's P&amp;L and exposure charts over rows stored in <c>account_samples</c>.</summary>
public sealed class AccountChartsTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;
    private readonly BunitContext _bunit = new();
    private DateTimeOffset _now;

    public async Task InitializeAsync()
    {
        // An hour between samples: the sampler stores nothing while a test runs.
        _portal = await PortalFactory.StartAsync(new Dictionary<string, string?> { ["Dashboard:SampleInterval"] = "01:00:00" });
        _now = _portal.Get<TimeProvider>().GetUtcNow();
        var store = _portal.Get<AccountSampleStore>();
        // 3 samples in the last hour, 5 in the last day, 6 in the last week; one older than any range.
        (TimeSpan Ago, decimal Pnl, decimal Exposure)[] rows =
        [
            (TimeSpan.FromDays(9), 999m, 1m), (TimeSpan.FromDays(3), -40m, 30_000m), (TimeSpan.FromHours(20), 10m, 31_000m), (TimeSpan.FromHours(5), 60m, 32_000m),
            (TimeSpan.FromMinutes(50), -120m, 41_000m), (TimeSpan.FromMinutes(30), 80m, 42_000m), (TimeSpan.FromMinutes(10), 250m, 43_000m),
        ];
        foreach (var (ago, pnl, exposure) in rows)
            await store.InsertAsync(new AccountSample(_now - ago, 100_000m + pnl, pnl, exposure), CancellationToken.None);

        _bunit.Services.AddMudServices();
        _bunit.JSInterop.Mode = JSRuntimeMode.Loose;
        _bunit.Services.AddSingleton(store);
        _bunit.Services.AddSingleton(_portal.Get<IOptions<DashboardOptions>>());
        _bunit.Services.AddSingleton(_portal.Get<TimeProvider>());
    }

    public async Task DisposeAsync()
    {
        await _bunit.DisposeAsync();
        await _portal.DisposeAsync();
    }

    private IRenderedComponent<AccountCharts> Render() =>
        _bunit.Render<AccountCharts>(p => p.Add(c => c.ExposureLimit, 50_000m));

    private static string Points(IRenderedComponent<AccountCharts> cut, string chart) => cut.Find($"#{chart}").GetAttribute("data-points")!;

    [Fact]
    public void The_chart_opens_with_the_last_hour_from_the_server_and_each_range_refetches()
    {
        var cut = Render();

        cut.WaitForAssertion(() => Assert.Equal("3", Points(cut, "pnl-chart")), TimeSpan.FromSeconds(10));
        Assert.Equal("1h", cut.Instance.Range);
        Assert.Equal([-120m, 80m, 250m], cut.Instance.Samples.Select(s => s.DailyPnl));

        cut.Find("#chart-range [data-range='1d']").Click();
        cut.WaitForAssertion(() => Assert.Equal("5", Points(cut, "pnl-chart")), TimeSpan.FromSeconds(10));

        cut.Find("#chart-range [data-range='1w']").Click();
        cut.WaitForAssertion(() => Assert.Equal("6", Points(cut, "exposure-chart")), TimeSpan.FromSeconds(10));
        Assert.DoesNotContain(cut.Instance.Samples, s => s.DailyPnl == 999m);
    }

    [Fact]
    public void Live_points_are_appended_after_the_history()
    {
        var cut = Render();
        cut.WaitForAssertion(() => Assert.Equal("3", Points(cut, "pnl-chart")), TimeSpan.FromSeconds(10));

        cut.Render(p => p.Add(c => c.Live, new AccountSample(_now.AddSeconds(5), 100_300m, 300m, 44_000m)));

        Assert.Equal("4", Points(cut, "pnl-chart"));
        Assert.Equal(300m, cut.Instance.Samples[^1].DailyPnl);
    }

    [Fact]
    public void PnL_has_its_own_chart_and_dollar_axis_apart_from_the_exposure_axis()
    {
        var cut = Render();
        cut.WaitForAssertion(() => Assert.Equal("3", Points(cut, "pnl-chart")), TimeSpan.FromSeconds(10));

        var charts = cut.FindComponents<MudChart<double>>();
        Assert.Equal(2, charts.Count);
        var pnl = charts[0].Instance;
        var exposure = charts[1].Instance;
        Assert.Equal(ChartType.Timeseries, pnl.ChartType);
        Assert.Equal(["Daily P&L"], pnl.ChartSeries.Select(s => s.Name));
        Assert.Equal(["Gross exposure"], exposure.ChartSeries.Select(s => s.Name));
        var pnlOptions = Assert.IsType<TimeSeriesChartOptions>(pnl.ChartOptions);
        var exposureOptions = Assert.IsType<TimeSeriesChartOptions>(exposure.ChartOptions);
        Assert.Equal("Daily P&L (USD)", pnlOptions.YAxisTitle);
        Assert.Equal("Time (UTC)", pnlOptions.XAxisTitle);
        Assert.Equal("Gross exposure (USD)", exposureOptions.YAxisTitle);
        Assert.Equal(50_000d, exposureOptions.YAxisSuggestedMax);
        Assert.Null(pnlOptions.YAxisSuggestedMax);
        Assert.Equal("$250", pnlOptions.YAxisToStringFunc!(250));
        Assert.Equal("-$120", pnlOptions.YAxisToStringFunc!(-120));
        Assert.Equal("$50k", exposureOptions.YAxisToStringFunc!(50_000));
        Assert.Contains("UTC", pnlOptions.TooltipTimeLabelFormat);

        // The P&L axis spans the P&L (-$120..$250), in dollars: none of the exposure axis's $10k steps.
        var pnlAxis = cut.Find("#pnl-chart").TextContent;
        var exposureAxis = cut.Find("#exposure-chart").TextContent;
        Assert.Contains("$100", pnlAxis);
        Assert.Contains("-$100", pnlAxis);
        Assert.DoesNotContain("k", pnlAxis.Replace("Daily P&L", "", StringComparison.Ordinal));
        Assert.Contains("$50k", exposureAxis);
    }

    [Fact]
    public void Tick_spacing_is_round()
    {
        Assert.Equal(100, AccountCharts.Step(370));
        Assert.Equal(10_000, AccountCharts.Step(50_000));
        Assert.Equal(1, AccountCharts.Step(0));
    }

    [Theory]
    [InlineData("00:00:01", 8, "Dashboard:SampleInterval")]
    [InlineData("00:01:00", 2, "Dashboard:SampleRetention")]
    public void Sampling_options_out_of_range_are_refused_naming_the_key(string interval, int retentionDays, string key)
    {
        var result = new DashboardOptionsValidator().Validate(null, new DashboardOptions
        {
            SampleInterval = TimeSpan.Parse(interval, System.Globalization.CultureInfo.InvariantCulture),
            SampleRetention = TimeSpan.FromDays(retentionDays),
        });
        Assert.True(result.Failed);
        Assert.Contains(key, result.FailureMessage);
    }

    [Fact]
    public async Task Portal_refuses_to_start_with_a_bad_sample_interval()
    {
        var (exitCode, output) = await Portal.Tests.Features.Configuration.StartupValidationTests.RunPortalAsync(("Dashboard__SampleInterval", "00:00:01"));
        Assert.NotEqual(0, exitCode);
        Assert.Contains("Dashboard:SampleInterval", output);
    }

    [Fact]
    public async Task The_sampler_stores_one_row_per_interval_and_prunes_old_rows()
    {
        var store = _portal.Get<AccountSampleStore>();
        var risk = _portal.Get<RiskBook>();
        await Poll.UntilAsync(() => risk.Snapshot is not null, "the risk book's first view of the account");
        var clock = _portal.Get<TimeProvider>();
        var sampler = new AccountSampler(risk, store, Options.Create(new DashboardOptions { SampleInterval = TimeSpan.FromMinutes(1), SampleRetention = TimeSpan.FromDays(8) }),
            clock, NullLogger<AccountSampler>.Instance);

        await sampler.SampleAsync(CancellationToken.None);
        await sampler.SampleAsync(CancellationToken.None); // the same minute, or the next: never two rows in one

        var now = clock.GetUtcNow();
        var recent = await store.SinceAsync(now.AddMinutes(-3), now, CancellationToken.None);
        var stored = recent.Where(s => s.At > _now.AddMinutes(-2)).ToList();
        Assert.InRange(stored.Count, 1, 2);
        Assert.All(stored, s => Assert.Equal(0, s.At.UtcTicks % TimeSpan.TicksPerMinute));
        Assert.Equal(risk.Snapshot!.GrossExposureUsd, stored[^1].GrossExposure);
        var all = await store.SinceAsync(now - TimeSpan.FromDays(30), now, CancellationToken.None);
        Assert.DoesNotContain(all, s => s.DailyPnl == 999m); // 9 days old: pruned
    }
}
