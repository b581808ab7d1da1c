using Microsoft.Extensions.Options;
using Portal.Features.Broker;
using Portal.Features.Risk;

namespace Portal.Features.Market;

public sealed class DemoOptions
{
    public bool Enabled { get; set; }
    public TimeSpan TickInterval { get; set; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan OrderInterval { get; set; } = TimeSpan.FromSeconds(4);
    public int Seed { get; set; } = 42;
}

/// <summary>
/// A demo market: a random walk for each configured symbol, ticking into the price book (and so
/// into the paper broker, which fills resting limit orders that the price crosses).
/// </summary>
public sealed class DemoMarket(IOptions<DemoOptions> demo, IOptions<MarketOptions> market, PriceBook prices, PaperBroker broker, TimeProvider clock, ILogger<DemoMarket> logger)
    : BackgroundService
{
    private const decimal StepVolatility = 0.0008m;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var random = new Random(demo.Value.Seed);
        var levels = market.Value.Symbols.Where(s => s.DemoStartPrice > 0m).ToDictionary(s => s.Symbol, s => s.DemoStartPrice);
        using var timer = new PeriodicTimer(demo.Value.TickInterval, clock);
        do
        {
            foreach (var symbol in levels.Keys.ToList())
            {
                // Box-Muller normal step, so prices move like a (very tame) market.
                var normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                var price = Math.Round(levels[symbol] * (1m + (decimal)normal * StepVolatility), 2);
                levels[symbol] = price;
                var mark = new PriceMark(symbol, price, clock.GetUtcNow(), StepVolatility);
                prices.Update(mark);
                try
                {
                    await broker.OnPriceAsync(mark, stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    logger.LogWarning(ex, "The paper broker could not process a price for {Symbol}", symbol);
                }
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
