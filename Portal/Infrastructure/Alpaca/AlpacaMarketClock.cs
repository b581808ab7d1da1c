using Microsoft.Extensions.Options;
using Portal.Domain.Trading;
using Portal.Features.Halt;

namespace Portal.Infrastructure.Alpaca;

/// <summary>
/// Alpaca's market clock (<c>GET /v2/clock</c>), read every <see cref="AlpacaOptions.MarketClockInterval"/> on each instance
/// and again just after each open and close it announces. While it says the market is closed, market-data silence
/// holds safe mode but does not halt (docs/alpaca.md, "Market hours"). If it cannot be read for three intervals, it is
/// not trusted: silence then halts as if the market never closed.
/// </summary>
public sealed class AlpacaMarketClock(AlpacaClient client, IOptions<AlpacaOptions> options, TimeProvider clock, ILogger<AlpacaMarketClock> logger)
    : BackgroundService, IMarketClock
{
    private static readonly TimeSpan AfterTransition = TimeSpan.FromSeconds(1);

    private readonly MarketClockTracker _tracker = new(options.Value.MarketClockInterval * 3);

    public MarketSession At(DateTimeOffset now) => _tracker.At(now);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.MarketClockInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = interval;
            try
            {
                var reading = await client.GetClockAsync(stoppingToken);
                var now = clock.GetUtcNow();
                _tracker.Read(now, reading.IsOpen, reading.NextOpen, reading.NextClose);
                var transition = (reading.IsOpen ? reading.NextClose : reading.NextOpen) - now + AfterTransition;
                if (transition > TimeSpan.Zero && transition < wait) wait = transition;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("Alpaca's market clock could not be read: {Error}", ex.Message);
            }
            try
            {
                await Task.Delay(wait, clock, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
            }
        }
    }
}
