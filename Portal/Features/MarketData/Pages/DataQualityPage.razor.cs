using System.Globalization;
using Microsoft.AspNetCore.Components;
using MudBlazor;
using Portal.Domain.MarketData;
using Portal.Features.Live;

namespace Portal.Features.MarketData.Pages;

/// <summary>
/// Market-data health: statuses change live (status events from the ingest), while ages, the refusal
/// chart and the anomaly list are re-read from memory by a timer on this circuit. The quarantine table is
/// paged in Postgres.
/// </summary>
public sealed partial class DataQualityPage
{
    private const int ChartMinutes = 30;
    private const int LabelEvery = 5;
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(2);

    [Inject] private IMarketDataView MarketData { get; set; } = default!;
    [Inject] private IQuarantineReader Quarantine { get; set; } = default!;
    [Inject] private TimeProvider Clock { get; set; } = default!;

    private MudTable<QuarantineStore.QuarantineRow> _quarantine = null!;
    private string? _quarantineSymbol;
    private IReadOnlyList<SymbolDataView> _symbols = [];
    private IReadOnlyList<DataAnomaly> _anomalies = [];
    private List<ChartSeries<double>> _refusalSeries = [];
    private string[] _refusalLabels = [];
    private DateTimeOffset _now;
    private ITimer? _refresh;

    protected override void OnInitialized()
    {
        base.OnInitialized();
        Refresh();
        _refresh = Clock.CreateTimer(_ => InvokeAsync(() => { Refresh(); StateHasChanged(); }), null, RefreshEvery, RefreshEvery);
    }

    protected override bool Handle(OpsEvent opsEvent)
    {
        if (opsEvent.Type != OpsEventTypes.MarketData) return false;
        Refresh();
        return true;
    }

    private void Refresh()
    {
        _now = Clock.GetUtcNow();
        _symbols = MarketData.Symbols();
        _anomalies = MarketData.RecentAnomalies();
        var minutes = MarketData.RefusalsByMinute(ChartMinutes);
        var reasons = minutes.SelectMany(m => m.Counts.Keys).Distinct().Order().ToList();
        _refusalSeries = reasons.Select(reason => new ChartSeries<double>
        {
            Name = reason.ToString(),
            Data = minutes.Select(m => (double)m.Counts.GetValueOrDefault(reason)).ToArray(),
        }).ToList();
        _refusalLabels = minutes.Select((m, i) => i % LabelEvery == 0 ? m.Minute.UtcDateTime.ToString("HH:mm", CultureInfo.InvariantCulture) : "").ToArray();
    }

    private async Task<TableData<QuarantineStore.QuarantineRow>> LoadQuarantineAsync(TableState state, CancellationToken ct)
    {
        var (rows, total) = await Quarantine.PageAsync(state.Page, state.PageSize, _quarantineSymbol, ct);
        return new TableData<QuarantineStore.QuarantineRow> { Items = rows, TotalItems = total };
    }

    private async Task FilterQuarantineAsync(string? symbol)
    {
        _quarantineSymbol = symbol;
        await _quarantine.ReloadServerData();
    }

    private static Color StatusColor(SymbolDataStatus status) => status switch
    {
        SymbolDataStatus.Ok => Color.Success,
        SymbolDataStatus.Suspect => Color.Warning,
        _ => Color.Error,
    };

    private static string Age(TimeSpan? age) => age switch
    {
        null => "never",
        { TotalSeconds: < 1 } => "< 1 s",
        { TotalMinutes: < 2 } a => $"{a.TotalSeconds:0} s",
        { TotalHours: < 2 } a => $"{a.TotalMinutes:0} min",
        { } a => $"{a.TotalHours:0} h",
    };

    public override void Dispose()
    {
        _refresh?.Dispose();
        base.Dispose();
    }
}
