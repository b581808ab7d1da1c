using System.Globalization;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.Options;
using MudBlazor;

namespace Portal.Features.Dashboard;

/// <summary>
/// The dashboard's charts: daily P&amp;L and gross exposure, each on its own axis in USD against time in UTC, over
/// 1 h, 1 d or 1 w read from <c>account_samples</c> when the range is chosen, then extended by <see cref="Live"/>.
/// </summary>
public sealed partial class AccountCharts
{
    internal static readonly (string Key, TimeSpan Span)[] Ranges = [("1h", AccountHistoryRange.Hour), ("1d", AccountHistoryRange.Day), ("1w", AccountHistoryRange.Week)];
    private const string TooltipTime = "yyyy-MM-dd HH:mm:ss 'UTC'";

    [Inject] private AccountSampleStore Store { get; set; } = default!;
    [Inject] private IOptions<DashboardOptions> Options { get; set; } = default!;
    [Inject] private TimeProvider Clock { get; set; } = default!;

    /// <summary>The newest live sample; appended when newer than the last point.</summary>
    [Parameter] public AccountSample? Live { get; set; }

    /// <summary>The gross exposure limit (USD): the exposure axis reaches at least to it.</summary>
    [Parameter] public decimal? ExposureLimit { get; set; }

    private string _range = Ranges[0].Key;
    private List<AccountSample> _samples = [];
    private List<ChartSeries<double>> _pnlSeries = [];
    private List<ChartSeries<double>> _exposureSeries = [];
    private TimeSeriesChartOptions _pnlOptions = new();
    private TimeSeriesChartOptions _exposureOptions = new();

    private string Interval => Options.Value.SampleInterval.ToString("c", CultureInfo.InvariantCulture);

    internal string Range => _range;
    internal IReadOnlyList<AccountSample> Samples => _samples;

    private TimeSpan Span => Ranges.First(r => r.Key == _range).Span;

    protected override Task OnInitializedAsync() => LoadAsync();

    protected override void OnParametersSet()
    {
        if (Live is not { } live || (_samples.Count > 0 && live.At <= _samples[^1].At)) return;
        _samples.Add(live);
        var since = live.At - Span;
        _samples.RemoveAll(s => s.At < since);
        Build();
    }

    private async Task SelectRangeAsync(string range)
    {
        if (range is null || range == _range) return;
        _range = range;
        await LoadAsync();
    }

    private async Task LoadAsync()
    {
        var now = Clock.GetUtcNow();
        _samples = [.. await Store.SinceAsync(now - Span, now, CancellationToken.None)];
        if (Live is { } live && (_samples.Count == 0 || live.At > _samples[^1].At) && live.At >= now - Span) _samples.Add(live);
        Build();
    }

    private void Build()
    {
        var pnl = _samples.Select(s => (s.At.UtcDateTime, (double)s.DailyPnl)).ToList();
        var exposure = _samples.Select(s => (s.At.UtcDateTime, (double)s.GrossExposure)).ToList();
        _pnlSeries = [new ChartSeries<double> { Name = "Daily P&L", Data = pnl, TooltipYValueFormat = "$#,##0.00;-$#,##0.00" }];
        _exposureSeries = [new ChartSeries<double> { Name = "Gross exposure", Data = exposure, TooltipYValueFormat = "$#,##0.00" }];
        _pnlOptions = AxisOptions("Daily P&L (USD)", pnl.Select(p => p.Item2), suggestedMax: null);
        _exposureOptions = AxisOptions("Gross exposure (USD)", exposure.Select(p => p.Item2), suggestedMax: ExposureLimit is { } limit ? (double)limit : null);
    }

    private TimeSeriesChartOptions AxisOptions(string title, IEnumerable<double> values, double? suggestedMax)
    {
        var list = values.ToList();
        var high = Math.Max(list.DefaultIfEmpty(0).Max(), suggestedMax ?? 0);
        var low = Math.Min(list.DefaultIfEmpty(0).Min(), 0);
        return new TimeSeriesChartOptions
        {
            YAxisTitle = title,
            XAxisTitle = "Time (UTC)",
            YAxisTicks = Step(high - low),
            MaxNumYAxisTicks = 6,
            YAxisSuggestedMax = suggestedMax,
            YAxisRequireZeroPoint = true,
            YAxisToStringFunc = Dollars,
            TimeLabelFormat = Span > AccountHistoryRange.Day ? "MM-dd HH:mm" : "HH:mm",
            TimeLabelSpacingRounding = true,
            TimeLabelSpacing = Span == AccountHistoryRange.Hour ? TimeSpan.FromMinutes(10) : Span == AccountHistoryRange.Day ? TimeSpan.FromHours(3) : TimeSpan.FromDays(1),
            TooltipTimeLabelFormat = TooltipTime,
            TooltipTitleFormat = "{{SERIES_NAME}}",
            TooltipSubtitleFormat = "{{Y_VALUE}} at {{X_VALUE}}",
            ShowLegend = false,
            ShowDataMarkers = _samples.Count <= 60,
        };
    }

    /// <summary>Axis labels short enough to clear the axis title: $250, -$1,500, $50k, $1.2M.</summary>
    internal static string Dollars(double value)
    {
        var size = Math.Abs(value);
        var text = size >= 1_000_000 ? (size / 1_000_000).ToString("0.#", CultureInfo.InvariantCulture) + "M"
            : size >= 10_000 ? (size / 1_000).ToString("0.#", CultureInfo.InvariantCulture) + "k"
            : size.ToString("#,##0", CultureInfo.InvariantCulture);
        return (value < 0 ? "-$" : "$") + text;
    }

    /// <summary>A round tick spacing (1, 2 or 5 × 10ⁿ dollars) giving about five lines over <paramref name="span"/>.</summary>
    internal static int Step(double span)
    {
        if (!(span > 0)) return 1;
        var raw = span / 5;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var mantissa = raw / magnitude;
        var step = (mantissa <= 1 ? 1 : mantissa <= 2 ? 2 : mantissa <= 5 ? 5 : 10) * magnitude;
        return (int)Math.Clamp(Math.Round(step), 1, int.MaxValue);
    }
}
