using Microsoft.Extensions.Options;
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
            builder.Services.AddOptions<DemoModelFeedOptions>().BindConfiguration(DemoModelFeedOptions.Section).ValidateOnStart();
            builder.Services.AddSingleton<IValidateOptions<DemoModelFeedOptions>, DemoModelFeedOptionsValidator>();
            if (builder.Configuration.GetValue($"{DemoModelFeedOptions.Section}:Enabled", true))
                builder.Services.AddHostedService<DemoModelFeed>();
        }
        return builder;
    }
}
