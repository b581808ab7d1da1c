using System.Collections.Concurrent;
using System.Threading.Channels;
using Portal.Features.Risk;

namespace Portal.Features.Broker;

/// <summary>
/// Every valid price this instance takes into its price book (from a feed on <c>POST /api/market-data/ticks</c>, the demo
/// market, or another instance through the shared market data) may fill resting paper limit orders of its symbol, as a
/// broker's matching would. The price book hands prices over without waiting (the ingest must not queue behind the order
/// path's locked commits); each round checks, in one query, the newest price of every symbol that moved since the last
/// round, so a flood of ticks costs one query at a time, not one per tick. Every instance checks the prices it hears; the
/// fill re-reads the orders under the account lock, so an order filled by one instance is not filled again by another.
/// </summary>
public sealed class RestingPaperOrderFiller(PriceBook prices, PaperBroker broker, ILogger<RestingPaperOrderFiller> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, PriceMark> _newest = new(StringComparer.Ordinal);
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        prices.PriceChanged += OnPrice;
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        prices.PriceChanged -= OnPrice;
        await base.StopAsync(cancellationToken);
    }

    private void OnPrice(PriceMark mark)
    {
        _newest[mark.Symbol] = mark;
        _wake.Writer.TryWrite(true);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await _wake.Reader.WaitToReadAsync(stoppingToken))
            {
                _wake.Reader.TryRead(out _);
                var marks = new List<PriceMark>(_newest.Count);
                foreach (var symbol in _newest.Keys)
                    if (_newest.TryRemove(symbol, out var mark)) marks.Add(mark);
                try
                {
                    await broker.OnPricesAsync(marks, stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // The next price of these symbols tries again.
                    logger.LogWarning(ex, "The paper broker could not process prices for {Symbols}", string.Join(",", marks.Select(m => m.Symbol)));
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
