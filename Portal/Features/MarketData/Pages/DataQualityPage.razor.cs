using System.Globalization;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using MudBlazor;
using Portal.Domain.MarketData;
using Portal.Features.Halt;
using Portal.Features.Identity;
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
    [Inject] private ISymbolReset SymbolReset { get; set; } = default!;
    [Inject] private AuthenticationStateProvider Authentication { get; set; } = default!;
    [Inject] private IAuthorizationService Authorization { get; set; } = default!;

    private MudTable<QuarantineStore.QuarantineRow> _quarantine = null!;
    private string? _quarantineSymbol;
    private IReadOnlyList<SymbolDataView> _symbols = [];
    private IReadOnlyList<DataAnomaly> _anomalies = [];
    private List<ChartSeries<double>> _refusalSeries = [];
    private string[] _refusalLabels = [];
    private DateTimeOffset _now;
    private ITimer? _refresh;
    /// <summary>Who resets symbols from this page: set only for a RiskOfficer.</summary>
    private string? _actor;
    private string? _resetSymbol;
    private string? _resetReason;
    private string? _resetError;
    private string? _resetDone;
    private bool _resetting;

    protected override void OnInitialized()
    {
        base.OnInitialized();
        Refresh();
        _refresh = Clock.CreateTimer(_ => InvokeAsync(() => { Refresh(); StateHasChanged(); }), null, RefreshEvery, RefreshEvery);
    }

    protected override async Task OnInitializedAsync()
    {
        var user = (await Authentication.GetAuthenticationStateAsync()).User;
        if ((await Authorization.AuthorizeAsync(user, Policies.RiskOfficer)).Succeeded) _actor = PortalActor.Of(user);
    }

    private void ChooseReset(string symbol) => (_resetSymbol, _resetReason, _resetError, _resetDone) = (symbol, null, null, null);

    private async Task ResetAsync()
    {
        _resetting = true;
        try
        {
            var errors = await SymbolReset.ResetAsync(_resetSymbol!, _resetReason ?? "", _actor!, CancellationToken.None);
            if (errors.Count > 0)
            {
                _resetError = string.Join(" ", errors.Select(e => $"{(e.Key == "reason" ? "The reason" : "The symbol")} {string.Join(" ", e.Value)}"));
                return;
            }
            (_resetDone, _resetSymbol, _resetError) = ($"{_resetSymbol} was reset: it is Stale until its next valid tick.", null, null);
            Refresh();
        }
        finally
        {
            _resetting = false;
        }
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
