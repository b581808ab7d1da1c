using System.Globalization;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using MudBlazor;
using Portal.Components.Shared;
using Portal.Features.Halt;
using Portal.Features.Identity;
using Portal.Features.Live;

namespace Portal.Features.ModelDrift.Pages;

public sealed partial class DriftPage : IDisposable
{
    private const int HistoryRuns = 500;

    /// <summary>The D history's ranges; a week by default, as checks run nightly unless someone runs one.</summary>
    internal static readonly (string Key, TimeSpan Span)[] HistoryRanges = [("1h", TimeSpan.FromHours(1)), ("1d", TimeSpan.FromDays(1)), ("1w", TimeSpan.FromDays(7))];

    /// <summary>ECDF shares and KS D both lie in 0..1: the axis shows exactly that (the chart's default tick spacing of 20 would draw 0..20).</summary>
    private static readonly LineChartOptions EcdfOptions = new()
    {
        YAxisTicks = 1, YAxisSuggestedMax = 1, YAxisRequireZeroPoint = true, YAxisFormat = "0.0",
        YAxisTitle = "Cumulative share (0–1)", XAxisTitle = "Value", TooltipSubtitleFormat = "{{Y_VALUE}} at {{X_VALUE}}",
    };

    private IReadOnlyDictionary<string, IReadOnlyList<string>>? _versions;
    private string? _model;
    private BaselineView? _baseline;
    private DriftRunView? _run;
    private DriftResultView? _selected;
    private List<ChartSeries<double>> _ecdfSeries = [];
    private string[] _ecdfLabels = [];
    private List<ChartSeries<double>> _historySeries = [];
    private TimeSeriesChartOptions _historyOptions = new();
    private LineChartOptions _ecdfOptions = EcdfOptions;
    private string _historyRange = HistoryRanges[^1].Key;
    private int _historyPoints;
    private string? _actor;
    private bool _busy;

    private string? _pinVersion;
    private bool _pinWindow;
    private int _pinFirstN = 1000;
    private string? _pinFrom;
    private string? _pinTo;
    private string? _pinReason;

    [Inject] private ModelDriftStore Store { get; set; } = null!;
    [Inject] private ModelDriftService Drift { get; set; } = null!;
    [Inject] private OpsEventBus Live { get; set; } = null!;
    [Inject] private ISnackbar Snackbar { get; set; } = null!;
    [Inject] private AuthenticationStateProvider Authentication { get; set; } = null!;
    [Inject] private TimeProvider Clock { get; set; } = null!;
    [Inject] private IAuthorizationService Authorization { get; set; } = null!;

    protected override void OnInitialized() => Live.Received += OnLiveEvent;

    protected override async Task OnInitializedAsync()
    {
        var user = (await Authentication.GetAuthenticationStateAsync()).User;
        if ((await Authorization.AuthorizeAsync(user, Policies.RiskOfficer)).Succeeded) _actor = PortalActor.Of(user);
        _versions = await Store.ModelVersionsAsync(CancellationToken.None);
        var withBaseline = await Store.ModelsWithBaselineAsync(CancellationToken.None);
        await SelectModelAsync(withBaseline.Count > 0 ? withBaseline[0] : _versions.Keys.FirstOrDefault());
    }

    public void Dispose() => Live.Received -= OnLiveEvent;

    private void OnLiveEvent(OpsEvent opsEvent)
    {
        if (opsEvent.Type != OpsEventTypes.ModelDrift) return;
        _ = InvokeAsync(async () =>
        {
            _versions = await Store.ModelVersionsAsync(CancellationToken.None);
            if (_model is not null && opsEvent.Data.GetProperty("modelId").GetString() == _model) await LoadModelAsync();
            StateHasChanged();
        });
    }

    private async Task SelectModelAsync(string? model)
    {
        _model = model;
        _pinVersion = model is not null && _versions?.GetValueOrDefault(model) is { Count: > 0 } versions ? versions[^1] : null;
        await LoadModelAsync();
    }

    private async Task LoadModelAsync()
    {
        if (_model is null) return;
        _baseline = await Store.BaselineAsync(_model, CancellationToken.None);
        _run = await Store.LatestRunAsync(_model, CancellationToken.None);
        var keep = _selected;
        _selected = null;
        var next = _run?.Results.FirstOrDefault(r => keep is not null && r.Kind == keep.Kind && r.Name == keep.Name) ?? (_run is { Results.Count: > 0 } ? _run.Results[0] : null);
        if (next is not null) await SelectAsync(next);
    }

    private void Select(DriftResultView result) => _ = InvokeAsync(async () =>
    {
        await SelectAsync(result);
        StateHasChanged();
    });

    private async Task SelectAsync(DriftResultView result)
    {
        _selected = result;
        _ecdfSeries =
        [
            new ChartSeries<double> { Name = "Baseline", Data = result.EcdfBaseline },
            new ChartSeries<double> { Name = "Current", Data = result.EcdfCurrent },
        ];
        // Every fifth point labelled keeps the axis readable at 375 px.
        _ecdfLabels = result.EcdfX.Select((x, i) => i % 5 == 0 ? x.ToString("G3", CultureInfo.InvariantCulture) : "").ToArray();
        await LoadHistoryAsync();
    }

    private async Task SelectHistoryRangeAsync(string range)
    {
        if (range is null || range == _historyRange) return;
        _historyRange = range;
        await LoadHistoryAsync();
    }

    /// <summary>The selected distribution's D in the chosen range, from the stored runs, on a 0..1 axis against time in UTC.</summary>
    private async Task LoadHistoryAsync()
    {
        if (_selected is not { } result) return;
        var span = HistoryRanges.First(r => r.Key == _historyRange).Span;
        var history = await Store.HistoryAsync(_model!, result.Kind, result.Name, HistoryRuns, CancellationToken.None, Clock.GetUtcNow() - span);
        _historyPoints = history.Count;
        _historySeries = [new ChartSeries<double> { Name = "KS D", Data = history.Select(p => (p.At.UtcDateTime, p.D)).ToList(), TooltipYValueFormat = "0.000" }];
        _historyOptions = new TimeSeriesChartOptions
        {
            YAxisTicks = 1, YAxisSuggestedMax = 1, YAxisRequireZeroPoint = true, YAxisFormat = "0.0",
            YAxisTitle = "KS D (0–1)", XAxisTitle = "Time (UTC)",
            TimeLabelFormat = span > TimeSpan.FromDays(1) ? "MM-dd HH:mm" : "HH:mm",
            TimeLabelSpacingRounding = true,
            TimeLabelSpacing = span <= TimeSpan.FromHours(1) ? TimeSpan.FromMinutes(10) : span <= TimeSpan.FromDays(1) ? TimeSpan.FromHours(3) : TimeSpan.FromDays(1),
            TooltipTimeLabelFormat = "yyyy-MM-dd HH:mm:ss 'UTC'", TooltipTitleFormat = "{{SERIES_NAME}}", TooltipSubtitleFormat = "{{Y_VALUE}} at {{X_VALUE}}",
            ShowDataMarkers = true, ShowLegend = false,
        };
    }

    private async Task RunCheckAsync()
    {
        _busy = true;
        try
        {
            var outcome = await Drift.CheckAsync(_model!, _actor!, CancellationToken.None);
            Snackbar.Add(outcome.Detail, outcome.Status != DriftCheckStatus.Completed ? Severity.Warning : outcome.Run!.Drifted ? Severity.Error : Severity.Success);
            await LoadModelAsync();
        }
        finally
        {
            _busy = false;
        }
    }

    private async Task PinAsync()
    {
        DateTimeOffset? from = null, to = null;
        if (_pinWindow && (!TryParseUtc(_pinFrom, out from) || !TryParseUtc(_pinTo, out to)))
        {
            Snackbar.Add($"From and To: {Formats.UtcInputError}", Severity.Error);
            return;
        }
        _busy = true;
        try
        {
            var request = new BaselineRequest(_model!, _pinVersion ?? "", from, to, _pinWindow ? null : _pinFirstN, _pinReason ?? "");
            var outcome = await Drift.PinBaselineAsync(request, _actor!, CancellationToken.None);
            if (outcome.Baseline is { } baseline)
            {
                Snackbar.Add($"Baseline #{baseline.Id} pinned: {baseline.ObservationCount:N0} observations.", Severity.Success);
                _pinReason = null;
            }
            else Snackbar.Add(string.Join(" ", outcome.Errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")), Severity.Error);
            await LoadModelAsync();
        }
        finally
        {
            _busy = false;
        }
    }

    private static bool TryParseUtc(string? text, out DateTimeOffset? value)
    {
        var ok = Formats.TryParseUtcInput(text, out var parsed);
        value = ok ? parsed : null;
        return ok;
    }

    /// <summary>The field's error under a typed time that is not "yyyy-MM-dd HH:mm"; none while it is empty.</summary>
    private static readonly Func<string, string?> UtcInputCheck = text =>
        string.IsNullOrWhiteSpace(text) || Formats.TryParseUtcInput(text, out _) ? null : Formats.UtcInputError;

    private static string PValue(double p) => p < 1e-4 ? p.ToString("0.0e0", CultureInfo.InvariantCulture) : p.ToString("F4", CultureInfo.InvariantCulture);

    private static string StatusText(DriftResultView r) => r.Drifted ? "Drifted" : r.Significant ? "Significant, immaterial" : r.Material ? "Material, not significant" : "Stable";

    private static Color StatusColor(DriftResultView r) => r.Drifted ? Color.Error : r.Significant || r.Material ? Color.Warning : Color.Success;
}
