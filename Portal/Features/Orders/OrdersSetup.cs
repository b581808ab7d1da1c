using Portal.Features.Limits;
using Portal.Features.Market;
using Portal.Features.Risk;

namespace Portal.Features.Orders;

public static class OrdersSetup
{
    /// <summary>Limits, market reference data, the risk book and the order gateway.</summary>
    public static IHostApplicationBuilder AddOrderGateway(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddOptions<RiskOptions>().BindConfiguration(RiskOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<RiskOptions>, RiskOptionsValidator>();
        builder.Services.AddOptions<MarketOptions>().BindConfiguration(MarketOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<MarketOptions>, MarketOptionsValidator>();
        builder.Services.AddSingleton<TradingCalendar>();
        builder.Services.AddSingleton<SymbolCatalog>();
        builder.Services.AddSingleton<PriceBook>();
        builder.Services.AddSingleton<LimitStore>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LimitStore>());
        builder.Services.AddSingleton<RiskBook>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RiskBook>());
        builder.Services.AddSingleton<OrderRequestParser>();
        builder.Services.AddSingleton<RateCounterRestorer>();
        builder.Services.AddSingleton<AccountAuthority>();
        builder.Services.AddSingleton<OrderStore>();
        builder.Services.AddSingleton<OrderGateway>();
        return builder;
    }
}
