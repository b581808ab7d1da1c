using Microsoft.Extensions.Options;

namespace Portal.Features.MarketData;

/// <summary>Re-judges symbol statuses on a timer, so a symbol turns Stale (and anomalies age out) without new ticks.</summary>
public sealed class MarketDataStatusMonitor(MarketDataIngest ingest, IOptions<MarketDataOptions> options, TimeProvider clock, ILogger<MarketDataStatusMonitor> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.StatusCheckInterval, clock);
        try
        {
            do
            {
                try
                {
                    ingest.RefreshStatuses();
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    logger.LogError(ex, "Market-data status check failed");
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
