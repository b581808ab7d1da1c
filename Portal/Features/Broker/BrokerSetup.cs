using Microsoft.Extensions.Options;
using Portal.Domain.Broker;
using Portal.Infrastructure;
using Portal.Infrastructure.Alpaca;

namespace Portal.Features.Broker;

/// <summary><c>Broker:Kind</c> (Paper or Alpaca) and <c>Broker:AllowLive</c>.</summary>
public sealed class BrokerOptions
{
    public const string Section = "Broker";
    public const string Paper = "Paper";
    public const string Alpaca = "Alpaca";

    public string Kind { get; set; } = Paper;
    /// <summary>Lets a broker adapter use a live (real money) account; until the deployment phase decides this, it is explicit.</summary>
    public bool AllowLive { get; set; }

    /// <summary>
    /// Least time between two refreshes of the account view (<see cref="Risk.RiskBook"/>) that accepted orders ask for: under
    /// load every order asks, and back-to-back refreshes cost a read of the whole account (or a call to the broker) per few
    /// orders for a view that decides nothing. At most one second, the view's own refresh period.
    /// </summary>
    public TimeSpan MinRefreshInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    public bool IsAlpaca => string.Equals(Kind, Alpaca, StringComparison.OrdinalIgnoreCase);
}

public static class BrokerSetup
{
    public static IHostApplicationBuilder AddBroker(this IHostApplicationBuilder builder)
    {
        var demo = builder.Configuration.GetValue<bool>("Demo:Enabled");
        builder.Services.AddOptions<BrokerOptions>().BindConfiguration(BrokerOptions.Section)
            .Validate(o => o.IsAlpaca || string.Equals(o.Kind, BrokerOptions.Paper, StringComparison.OrdinalIgnoreCase),
                "Broker:Kind must be Paper or Alpaca.")
            .Validate(o => o.MinRefreshInterval >= TimeSpan.Zero && o.MinRefreshInterval <= TimeSpan.FromSeconds(1),
                "Broker:MinRefreshInterval must be between 00:00:00 and 00:00:01.")
            .Validate(o => !o.IsAlpaca || !demo, "Broker:Kind Alpaca cannot run with Demo:Enabled=true: the demo market fills paper orders only.")
            .ValidateOnStart();
        builder.Services.AddKeyedSingleton(ConnectionCut.Broker, new ConnectionCut(ConnectionCut.Broker));
        // An unknown kind registers the paper broker, so start-up gets as far as the validation that names the key.
        if (string.Equals(builder.Configuration["Broker:Kind"], BrokerOptions.Alpaca, StringComparison.OrdinalIgnoreCase))
        {
            builder.Services.AddAlpacaBroker();
            builder.Services.AddSingleton(sp => new UnsentOrderTimeout(sp.GetRequiredService<IOptions<AlpacaOptions>>().Value.UnsentOrderTimeout));
            builder.AddUnsentOrderResolver();
            return builder;
        }
        builder.Services.AddOptions<PaperBrokerOptions>().BindConfiguration("Broker:Paper")
            .Validate(o => o.StartingCash > 0m, "Broker:Paper:StartingCash must be greater than zero.")
            // Well beyond any request's lifetime, so an order still on its way to the broker is never taken for an unsent one.
            .Validate(o => o.UnsentOrderTimeout >= TimeSpan.FromSeconds(5) && o.UnsentOrderTimeout <= TimeSpan.FromHours(1),
                "Broker:Paper:UnsentOrderTimeout must be between 00:00:05 and 01:00:00.")
            .ValidateOnStart();
        builder.Services.AddSingleton<PaperBroker>();
        builder.Services.AddSingleton<IBroker>(sp => sp.GetRequiredService<PaperBroker>());
        builder.Services.AddSingleton<IDecisionBroker>(sp => sp.GetRequiredService<PaperBroker>());
        builder.Services.AddHostedService<PaperAccountSetup>();
        builder.Services.AddHostedService<RestingPaperOrderFiller>();
        builder.Services.AddSingleton(sp => new UnsentOrderTimeout(sp.GetRequiredService<IOptions<PaperBrokerOptions>>().Value.UnsentOrderTimeout));
        builder.AddUnsentOrderResolver();
        return builder;
    }

    /// <summary>Every broker's accepted orders left unsent by an instance that stopped are settled (<see cref="UnsentOrderResolver"/>).</summary>
    public static IHostApplicationBuilder AddUnsentOrderResolver(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<UnsentOrderResolver>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<UnsentOrderResolver>());
        return builder;
    }
}

/// <summary>Creates the paper account's row at start if it is missing (retrying until Postgres answers); the broker keeps no other state.</summary>
public sealed class PaperAccountSetup(PaperBroker broker, IOptions<PaperBrokerOptions> options, ILogger<PaperAccountSetup> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        do
        {
            try
            {
                await broker.EnsureAccountAsync(options.Value.StartingCash, stoppingToken);
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "The paper account could not be checked; retrying");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
