using Microsoft.Extensions.Options;
using Portal.Domain.Orders;
using Portal.Features.Market;
using Portal.Features.Orders;
using Portal.Features.Risk;

namespace Portal.Features.Demo;

/// <summary>
/// A demo strategy sending a modest stream of orders through the same gateway as the API, about
/// one in four deliberately breaking a limit (oversized, far-off limit price, too many shares).
/// </summary>
public sealed class DemoStrategy(IOptions<DemoOptions> demo, PriceBook prices, OrderGateway gateway, TimeProvider clock, ILogger<DemoStrategy> logger)
    : BackgroundService
{
    public const string StrategyId = "demo-momentum";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var random = new Random(demo.Value.Seed + 1);
        var run = clock.GetUtcNow().ToUnixTimeSeconds();
        var sequence = 0;
        using var timer = new PeriodicTimer(demo.Value.OrderInterval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var marks = prices.All.ToList();
            if (marks.Count == 0) continue;
            var mark = marks[random.Next(marks.Count)];
            var side = random.Next(2) == 0 ? OrderSide.Buy : OrderSide.Sell;
            var quantity = random.Next(1, 6);
            decimal? limitPrice = null;
            var type = OrderType.Market;
            switch (random.Next(8))
            {
                case 0: quantity = (int)Math.Ceiling(20_000m / mark.Price); break;  // far above the max order value
                case 1: type = OrderType.Limit; limitPrice = Math.Round(mark.Price * (side == OrderSide.Buy ? 1.2m : 0.8m), 2); break; // outside the collar
                case 2: case 3: type = OrderType.Limit; limitPrice = Math.Round(mark.Price * (side == OrderSide.Buy ? 0.999m : 1.001m), 2); break;
            }
            var order = new ParsedOrder($"demo-{run}-{++sequence}", new OrderIntent(StrategyId, mark.Symbol, side, quantity, type, limitPrice), TimeInForce.Day);
            try
            {
                var outcome = await gateway.SubmitAsync(order, "demo-strategy", senderMayTradeStrategy: true, stoppingToken);
                logger.LogInformation("Demo order {Id} {Side} {Quantity} {Symbol}: {Decision} {Reason}", order.ClientOrderId, side, quantity, mark.Symbol,
                    outcome.Row?.Decision ?? outcome.Kind.ToString(), outcome.Row?.Reason);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Demo order failed");
            }
        }
    }
}
