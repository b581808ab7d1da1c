using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Domain.Broker;
using Portal.Domain.Orders;
using Portal.Domain.Risk;
using Portal.Domain.Trading;
using Portal.Features.Broker;
using Portal.Features.Limits;
using Portal.Features.MarketData;

namespace Portal.Features.Risk;

/// <summary>
/// A read model of the account for dashboards, gauges and the broker heartbeat: the broker's cash, positions and open orders,
/// refreshed every second and after accepted orders (at most every <c>Broker:MinRefreshInterval</c>), plus the equity marks (start of day and week, high-water mark) it
/// keeps in <c>equity_marks</c>. It decides nothing: decisions read the account under its lock (<see cref="AccountAuthority"/>).
/// With an external broker its last view is that broker's positions of record for those decisions.
/// </summary>
public sealed class RiskBook(IBroker broker, PriceBook prices, TradingCalendar calendar, NpgsqlDataSource db, IOptions<BrokerOptions> options,
    TimeProvider clock, ILogger<RiskBook> logger)
    : BackgroundService
{
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _syncRequested = new(0, 1);
    // 1 while a sync request is waiting, so every accepted order costs one flag check, not a semaphore overflow.
    private int _syncPending;
    private BrokerPortfolio? _portfolio;
    private PortfolioSnapshot? _snapshot;
    private DateTimeOffset _lastSync;
    private DateOnly _tradingDate;
    private decimal _dayStartEquity, _weekStartEquity, _highWaterMark;
    private bool _equityMarksLoaded;
    private DateTimeOffset _lastMarkWrite;

    public bool IsReady { get { lock (_gate) return _portfolio is not null && _equityMarksLoaded; } }

    public DateTimeOffset LastSync { get { lock (_gate) return _lastSync; } }

    /// <summary>The broker's positions and open orders as last synced; null before the first sync.</summary>
    public BrokerPortfolio? Portfolio { get { lock (_gate) return _portfolio; } }

    public PortfolioSnapshot? Snapshot { get { lock (_gate) return _portfolio is null ? null : BuildSnapshot(); } }

    public void RequestSync()
    {
        if (Interlocked.Exchange(ref _syncPending, 1) == 0) _syncRequested.Release();
    }

    public async Task SyncAsync(CancellationToken ct)
    {
        var started = clock.GetTimestamp();
        var portfolio = await broker.GetPortfolioAsync(ct);
        var read = clock.GetElapsedTime(started);
        lock (_gate)
        {
            _portfolio = portfolio;
            _lastSync = portfolio.AsOf;
            _snapshot = null;
        }
        await UpdateEquityMarksAsync(ct);
        // A slow sync brings the broker-silence safe mode closer: say which part was slow.
        if (clock.GetElapsedTime(started) is var total && total > SlowSync)
            logger.LogWarning("Portfolio sync from broker {Broker} took {TotalMs:0} ms (broker read {ReadMs:0} ms)", broker.Name, total.TotalMilliseconds, read.TotalMilliseconds);
    }

    private static readonly TimeSpan SlowSync = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        prices.PriceChanged += OnPriceChanged;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var started = clock.GetTimestamp();
                try
                {
                    await SyncAsync(stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    logger.LogWarning(ex, "Could not refresh the portfolio from broker {Broker}", broker.Name);
                }
                if (!await _syncRequested.WaitAsync(TimeSpan.FromSeconds(1), stoppingToken)) continue;
                Interlocked.Exchange(ref _syncPending, 0);
                // Requests made meanwhile are served by the next refresh: orders arriving by the thousand get a few a second.
                if (options.Value.MinRefreshInterval - clock.GetElapsedTime(started) is { Ticks: > 0 } rest)
                    await Task.Delay(rest, clock, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            prices.PriceChanged -= OnPriceChanged;
        }
    }

    private void OnPriceChanged(PriceMark mark)
    {
        lock (_gate) _snapshot = null;
    }

    private PortfolioSnapshot BuildSnapshot()
    {
        if (_snapshot is not null) return _snapshot;
        var portfolio = _portfolio ?? new BrokerPortfolio(0m, [], [], default);
        var books = new Dictionary<string, SymbolBook>(StringComparer.Ordinal);
        var equity = portfolio.Cash;
        foreach (var position in portfolio.Positions)
        {
            var mark = prices.Get(position.Symbol)?.Price ?? position.AvgPrice;
            equity += position.Quantity * mark;
            books[position.Symbol] = new SymbolBook(position.Quantity, 0m, 0m, mark);
        }
        foreach (var order in portfolio.OpenOrders) AddWorking(books, order.Symbol, order.Side, order.RemainingQuantity);
        _snapshot = new PortfolioSnapshot(equity, _dayStartEquity, _weekStartEquity, _highWaterMark, books);
        return _snapshot;
    }

    private void AddWorking(Dictionary<string, SymbolBook> books, string symbol, OrderSide side, decimal quantity)
    {
        var book = books.TryGetValue(symbol, out var existing) ? existing : new SymbolBook(0m, 0m, 0m, prices.Get(symbol)?.Price ?? 0m);
        books[symbol] = side == OrderSide.Buy
            ? book with { OpenBuyQuantity = book.OpenBuyQuantity + quantity }
            : book with { OpenSellQuantity = book.OpenSellQuantity + quantity };
    }

    /// <summary>Start-of-day and start-of-week equity and the high-water mark, kept in equity_marks.</summary>
    private async Task UpdateEquityMarksAsync(CancellationToken ct)
    {
        decimal equity;
        var now = clock.GetUtcNow();
        var today = calendar.TradingDate(now);
        lock (_gate)
        {
            equity = BuildSnapshot().Equity;
            if (_equityMarksLoaded && today == _tradingDate)
            {
                var rose = equity > _highWaterMark;
                if (rose) { _highWaterMark = equity; _snapshot = null; }
                // A rising mark is persisted at most once a second; the in-memory one is already current.
                if (!rose || now - _lastMarkWrite < TimeSpan.FromSeconds(1)) return;
            }
            _lastMarkWrite = now;
        }

        await using var connection = await db.OpenConnectionAsync(ct);
        await using (var upsert = new NpgsqlCommand("""
            insert into equity_marks (trading_date, start_equity, high_water_mark, updated_at) values ($1, $2, $2, $3)
            on conflict (trading_date) do update set high_water_mark = greatest(equity_marks.high_water_mark, excluded.high_water_mark), updated_at = excluded.updated_at
            """, connection))
        {
            upsert.Parameters.AddWithValue(today);
            upsert.Parameters.AddWithValue(equity);
            upsert.Parameters.AddWithValue(clock.GetUtcNow());
            await upsert.ExecuteNonQueryAsync(ct);
        }
        await using var read = new NpgsqlCommand("""
            select (select start_equity from equity_marks where trading_date = $1),
                   (select start_equity from equity_marks where trading_date >= $2 order by trading_date limit 1),
                   (select max(high_water_mark) from equity_marks)
            """, connection);
        read.Parameters.AddWithValue(today);
        read.Parameters.AddWithValue(calendar.WeekStart(today));
        await using var reader = await read.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        lock (_gate)
        {
            _dayStartEquity = reader.GetDecimal(0);
            _weekStartEquity = reader.GetDecimal(1);
            _highWaterMark = Math.Max(reader.GetDecimal(2), equity);
            _tradingDate = today;
            _equityMarksLoaded = true;
            _snapshot = null;
        }
    }
}
