using Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.EntityFrameworkCore;
using MudBlazor;
using Portal.Domain.Broker;
using Portal.Features.Limits;
using Portal.Features.Live;
using Portal.Features.Risk;
using Portal.Infrastructure.Postgres;

namespace Portal.Features.Orders.Pages;

public sealed partial class PositionsPage : IDisposable
{
    private MudTable<OrderRow> _blotter = null!;
    private BlotterFilter _filter = new();
    private IReadOnlyList<PositionRow> _positions = [];
    private IReadOnlyList<BrokerOrderState> _openOrders = [];
    private readonly HashSet<string> _cancelling = [];
    private decimal _equity, _maxPositionSizeUsd;
    private DateTimeOffset? _asOf;

    [Inject] private RiskBook Book { get; set; } = null!;
    [Inject] private LimitStore Limits { get; set; } = null!;
    [Inject] private IBroker Broker { get; set; } = null!;
    [Inject] private IDbContextFactory<PortalDbContext> DbFactory { get; set; } = null!;
    [Inject] private OpsEventBus Live { get; set; } = null!;
    [Inject] private TimeProvider Clock { get; set; } = null!;
    [Inject] private ISnackbar Snackbar { get; set; } = null!;
    [Inject] private AuthenticationStateProvider Authentication { get; set; } = null!;
    [Inject] private ILogger<PositionsPage> Logger { get; set; } = null!;

    protected override void OnInitialized()
    {
        LoadPositions();
        Live.Received += OnLiveEvent;
    }

    public void Dispose() => Live.Received -= OnLiveEvent;

    private void OnLiveEvent(OpsEvent opsEvent)
    {
        if (opsEvent.Type is not (OpsEventTypes.OrderDecision or OpsEventTypes.OrderUpdate or OpsEventTypes.Limits)) return;
        _ = InvokeAsync(async () =>
        {
            LoadPositions();
            if (opsEvent.Type == OpsEventTypes.OrderDecision) await _blotter.ReloadServerData();
            StateHasChanged();
        });
    }

    private void LoadPositions()
    {
        var snapshot = Book.Snapshot;
        var portfolio = Book.Portfolio;
        _asOf = Book.LastSync;
        _equity = snapshot?.Equity ?? 0m;
        _maxPositionSizeUsd = Limits.Current?.Limits.MaxPositionSizeUsd ?? 0m;
        _openOrders = portfolio?.OpenOrders ?? [];
        _positions = (portfolio?.Positions ?? []).Where(p => p.Quantity != 0m).Select(p =>
        {
            var mark = snapshot?.Book(p.Symbol).Mark is { } m and > 0m ? m : p.AvgPrice;
            var value = p.Quantity * mark;
            return new PositionRow(p.Symbol, p.Quantity, p.AvgPrice, value, (mark - p.AvgPrice) * p.Quantity,
                _equity > 0m ? Math.Abs(value) / _equity : 0m, _maxPositionSizeUsd > 0m ? Math.Abs(value) / _maxPositionSizeUsd : 0m);
        }).OrderByDescending(r => Math.Abs(r.MarketValue)).ToList();
    }

    private async Task<TableData<OrderRow>> LoadBlotterAsync(TableState state, CancellationToken ct)
    {
        await using var db = await DbFactory.CreateDbContextAsync(ct);
        var query = _filter.Apply(db.Orders.AsNoTracking(), Clock.GetUtcNow());
        var total = await query.CountAsync(ct);
        var page = await query.OrderByDescending(o => o.CreatedAt).Skip(state.Page * state.PageSize).Take(state.PageSize).ToListAsync(ct);
        return new TableData<OrderRow> { Items = page, TotalItems = total };
    }

    private async Task FilterAsync(BlotterFilter filter)
    {
        _filter = filter;
        await _blotter.ReloadServerData();
    }

    private async Task CancelAsync(BrokerOrderState order)
    {
        var actor = LimitsApi.Actor((await Authentication.GetAuthenticationStateAsync()).User);
        _cancelling.Add(order.ClientOrderId);
        try
        {
            var after = await Broker.CancelOrderAsync(order.ClientOrderId, CancellationToken.None);
            Logger.LogInformation("{Actor} cancelled order {ClientOrderId} ({Symbol}) from the positions page: now {Status}",
                actor, order.ClientOrderId, order.Symbol, after?.Status.ToString() ?? "unknown to the broker");
            Snackbar.Add($"Order {order.ClientOrderId}: {after?.Status.ToString() ?? "not known to the broker"}.", Severity.Info);
            // The broker answered that it is no longer open; the next sync would show the same.
            if (after is not { IsOpen: true }) _openOrders = _openOrders.Where(o => o.ClientOrderId != order.ClientOrderId).ToList();
            Book.RequestSync();
        }
        catch (BrokerException ex)
        {
            Logger.LogWarning(ex, "{Actor} could not cancel order {ClientOrderId}", actor, order.ClientOrderId);
            Snackbar.Add($"Could not cancel {order.ClientOrderId}: {ex.Message}", Severity.Error);
        }
        finally
        {
            _cancelling.Remove(order.ClientOrderId);
        }
    }

    private static string Money(decimal value) => Formats.Usd(value);

    private sealed record PositionRow(string Symbol, decimal Quantity, decimal AvgPrice, decimal MarketValue, decimal UnrealizedPnl, decimal ShareOfEquity, decimal LimitUsage);
}
