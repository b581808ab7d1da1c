using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Portal.Features.Halt;

public static class HaltSetup
{
    public static IHostApplicationBuilder AddKillSwitch(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<HaltOptions>().BindConfiguration(HaltOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<HaltOptions>, HaltOptionsValidator>();
        builder.Services.AddOptions<AlertOptions>().BindConfiguration(AlertOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AlertOptions>, AlertOptionsValidator>();
        // A chat webhook's secret is in its URL's path, which HttpClient's own logging would write out.
        builder.Services.AddHttpClient(nameof(AlertPublisher), client => client.Timeout = TimeSpan.FromSeconds(5)).RemoveAllLoggers();

        builder.Services.AddSingleton<AlertPublisher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AlertPublisher>());
        builder.Services.AddSingleton<TradingStateStore>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<TradingStateStore>());
        builder.Services.AddSingleton<SafeModeMonitor>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<SafeModeMonitor>());
        builder.Services.AddSingleton<BrokerKillPathSync>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BrokerKillPathSync>());
        builder.Services.AddSingleton<KillSwitch>();
        // A broker with market hours (Alpaca) registers its clock; the paper broker's market never closes.
        builder.Services.TryAddSingleton<IMarketClock, MarketNeverCloses>();
        builder.Services.AddSingleton<AutoHaltMonitor>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AutoHaltMonitor>());
        return builder;
    }
}
