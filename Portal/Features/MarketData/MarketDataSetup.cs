using Microsoft.Extensions.Options;

namespace Portal.Features.MarketData;

public static class MarketDataSetup
{
    /// <summary>Tick validation and ingest, the quarantine writer, the status monitor and the relay between instances.</summary>
    public static IHostApplicationBuilder AddMarketData(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<MarketDataOptions>().BindConfiguration(MarketDataOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<MarketDataOptions>, MarketDataOptionsValidator>();
        builder.Services.AddSingleton<QuarantineQueue>();
        builder.Services.AddSingleton<QuarantineStore>();
        builder.Services.AddSingleton<IQuarantineReader>(sp => sp.GetRequiredService<QuarantineStore>());
        builder.Services.AddSingleton<TickRelayQueue>();
        builder.Services.AddSingleton<MarketDataIngest>();
        builder.Services.AddSingleton<IMarketDataView>(sp => sp.GetRequiredService<MarketDataIngest>());
        builder.Services.AddSingleton<ISymbolReset, SymbolReset>();
        builder.Services.AddSingleton<QuarantineWriter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<QuarantineWriter>());
        builder.Services.AddHostedService<MarketDataStatusMonitor>();
        builder.Services.AddSingleton<MarketDataRelay>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MarketDataRelay>());
        return builder;
    }
}
