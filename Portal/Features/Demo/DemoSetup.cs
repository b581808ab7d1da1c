using Portal.Features.Market;

namespace Portal.Features.Demo;

public static class DemoSetup
{
    public static IHostApplicationBuilder AddDemo(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DemoOptions>().BindConfiguration("Demo");
        if (builder.Configuration.GetValue<bool>("Demo:Enabled"))
        {
            builder.Services.AddHostedService<DemoMarket>();
            // Demo:StrategyEnabled=false keeps the demo market's prices without the demo strategy's orders (bench/load.sh).
            if (builder.Configuration.GetValue("Demo:StrategyEnabled", true))
                builder.Services.AddHostedService<DemoStrategy>();
        }
        return builder;
    }
}
