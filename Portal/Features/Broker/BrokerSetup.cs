using Microsoft.Extensions.Options;
using Portal.Domain.Broker;

namespace Portal.Features.Broker;

public static class BrokerSetup
{
    public static IHostApplicationBuilder AddBroker(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<PaperBrokerOptions>().BindConfiguration("Broker:Paper")
            .Validate(o => o.StartingCash > 0m, "Broker:Paper:StartingCash must be greater than zero.").ValidateOnStart();
        builder.Services.AddSingleton<PaperBroker>();
        builder.Services.AddSingleton<IBroker>(sp => sp.GetRequiredService<PaperBroker>());
        builder.Services.AddHostedService<PaperBrokerLoader>();
        return builder;
    }
}

/// <summary>Loads the paper broker's state at start, and again whenever a failed write left memory untrusted.</summary>
public sealed class PaperBrokerLoader(PaperBroker broker, IOptions<PaperBrokerOptions> options, ILogger<PaperBrokerLoader> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        do
        {
            if (broker.IsLoaded) continue;
            try
            {
                await broker.LoadAsync(options.Value.StartingCash, stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "The paper broker could not load its state; retrying");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
