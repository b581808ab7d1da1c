using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Components;
using Portal.Components.Shared;
using Portal.Domain.Risk;
using Portal.Features.Halt;
using Portal.Features.Limits;
using Portal.Features.Live;
using Portal.Features.Orders;
using Portal.Features.Risk;

namespace Portal.Features.Dashboard;

/// <summary>
/// The account at a glance. Order decisions arrive live from the event stream (seeded from Postgres
/// when the page opens); the in-memory numbers (risk book, limits, safe mode) are re-read by a
/// timer on this circuit, which also adds the charts' live points (their history is stored: <see cref="AccountSampler"/>). Nothing polls the server.
/// </summary>
public sealed partial class DashboardPage
{
    private const int RefusalsShown = 20;
    private static readonly TimeSpan RateWindow = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan SampleEvery = TimeSpan.FromSeconds(5);

    [Inject] private RiskBook Risk { get; set; } = default!;
    [Inject] private LimitStore LimitStore { get; set; } = default!;
    [Inject] private SafeModeMonitor SafeMode { get; set; } = default!;
    [Inject] private DashboardQueries Queries { get; set; } = default!;
    [Inject] private TimeProvider Clock { get; set; } = default!;

    private readonly Queue<DateTimeOffset> _decisionTimes = new();
    private AccountSample? _live;
    private List<OrderDecisionEvent> _refusals = [];
    private ITimer? _refresh;
    private DateTimeOffset _lastSample;

    private PortfolioSnapshot? Snapshot { get; set; }
    private RiskLimits? Limits => LimitStore.Current?.Limits;
    private decimal? DailyPnl => Snapshot is { } s ? s.Equity - s.DayStartEquity : null;
    private int OrdersLastMinute => _decisionTimes.Count;

    private sealed record Dependency(string Name, bool Healthy, string? Problem);

    /// <summary>Each dependency, unhealthy while any safe-mode cause it accounts for holds: the same causes the banner lists.</summary>
    private IEnumerable<Dependency> Dependencies
    {
        get
        {
            var active = SafeMode.Active;
            foreach (var name in SafeModeMonitor.Dependencies)
            {
                var causes = SafeModeMonitor.Causes.Where(c => active.ContainsKey(c) && SafeModeMonitor.DependencyOf(c) == name).ToList();
                yield return new(name, causes.Count == 0, causes.Count == 0 ? null : string.Join(", ", causes));
            }
        }
    }

    protected override async Task OnInitializedAsync()
    {
        var now = Clock.GetUtcNow();
        foreach (var time in await Queries.DecisionTimesSinceAsync(now - RateWindow, CancellationToken.None)) _decisionTimes.Enqueue(time);
        _refusals = await Queries.RecentRefusalsAsync(RefusalsShown, CancellationToken.None);
        Refresh();
        _refresh = Clock.CreateTimer(_ => InvokeAsync(() => { Refresh(); StateHasChanged(); }), null, RefreshEvery, RefreshEvery);
    }

    protected override bool Handle(OpsEvent opsEvent)
    {
        if (opsEvent.Type != OpsEventTypes.OrderDecision) return opsEvent.Type is OpsEventTypes.SafeMode or OpsEventTypes.Limits;
        _decisionTimes.Enqueue(opsEvent.At);
        if (opsEvent.Data.Deserialize<OrderDecisionEvent>(OpsEventBus.Json) is { Decision: "rejected" } refusal)
        {
            _refusals.Insert(0, refusal);
            if (_refusals.Count > RefusalsShown) _refusals.RemoveAt(_refusals.Count - 1);
        }
        return true;
    }

    private void Refresh()
    {
        var now = Clock.GetUtcNow();
        while (_decisionTimes.Count > 0 && now - _decisionTimes.Peek() > RateWindow) _decisionTimes.Dequeue();
        Snapshot = Risk.Snapshot;
        if (Snapshot is { } snapshot && now - _lastSample >= SampleEvery)
        {
            _lastSample = now;
            _live = new AccountSample(now, snapshot.Equity, snapshot.Equity - snapshot.DayStartEquity, snapshot.GrossExposureUsd);
        }
    }

    private static string Usd(decimal? value) => Formats.Usd(value);

    private static string Percent(decimal? value) => Formats.Percent(value);

    private static decimal Share(decimal? value, decimal? limit) => value is { } v && limit is > 0m ? v / limit.Value : 0m;

    public override void Dispose()
    {
        _refresh?.Dispose();
        base.Dispose();
    }
}
