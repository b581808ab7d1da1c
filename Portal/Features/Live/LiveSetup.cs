using Portal.Features.Identity;
using Portal.Infrastructure.Postgres;
using Portal.Infrastructure.Redis;
using StackExchange.Redis;

namespace Portal.Features.Live;

public static class LiveSetup
{
    public const string HubPath = "/hubs/ops";

    public static IHostApplicationBuilder AddLiveEvents(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<OpsEventBus>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<OpsEventBus>());
        var redis = PostgresSetup.RequiredConnectionString(builder.Configuration, "Redis");
        var prefix = builder.Configuration["Redis:KeyPrefix"] ?? new RedisOptions().KeyPrefix;
        builder.Services.AddSignalR().AddStackExchangeRedis(redis, o =>
        {
            // Blazor's own circuit hub shares the backplane; a prefix keeps deployments and tests apart.
            o.Configuration.ChannelPrefix = RedisChannel.Literal(prefix + "signalr");
            o.Configuration.AbortOnConnectFail = false;
        });
        builder.Services.AddHostedService<OpsHubForwarder>();
        builder.Services.AddSingleton<OpsHubConnections>();
        builder.Services.AddOptions<LiveOptions>().BindConfiguration(LiveOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<LiveOptions>, LiveOptionsValidator>();
        builder.Services.AddHostedService<OpsHubRevalidator>();
        builder.Services.AddHostedService<BrokerUpdatesForwarder>();
        return builder;
    }

    public static IEndpointRouteBuilder MapLiveEvents(this IEndpointRouteBuilder app)
    {
        app.MapHub<OpsHub>(HubPath).RequireAuthorization(Policies.AnyCaller);
        return app;
    }
}
