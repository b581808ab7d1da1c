using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;
using Portal.Domain.Broker;
using Portal.Features.Halt;

namespace Portal.Infrastructure.Alpaca;

public static class AlpacaSetup
{
    /// <summary>Options, credentials and the HTTP client with its resilience pipeline.</summary>
    public static IServiceCollection AddAlpacaClient(this IServiceCollection services)
    {
        services.AddOptions<AlpacaOptions>().BindConfiguration(AlpacaOptions.Section)
            .Configure<IConfiguration>((o, configuration) =>
            {
                // Alpaca's own tools read these; honour them so one environment serves both.
                if (string.IsNullOrWhiteSpace(o.KeyId)) o.KeyId = configuration[AlpacaCredentials.FileKeyId];
                if (string.IsNullOrWhiteSpace(o.SecretKey)) o.SecretKey = configuration[AlpacaCredentials.FileSecretKey];
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<AlpacaOptions>, AlpacaOptionsValidator>();
        services.AddSingleton(sp => AlpacaCredentials.Resolve(sp.GetRequiredService<IOptions<AlpacaOptions>>().Value) switch
        {
            ({ } credentials, _) => credentials,
            (_, var problem) => throw new OptionsValidationException(AlpacaOptions.Section, typeof(AlpacaOptions), [problem!]),
        });

        services.AddHttpClient(AlpacaClient.HttpClientName, (sp, http) =>
            {
                var options = sp.GetRequiredService<IOptions<AlpacaOptions>>().Value;
                var credentials = sp.GetRequiredService<AlpacaCredentials>();
                http.BaseAddress = options.BaseUri;
                // The resilience pipeline bounds every request; HttpClient's own 100 s limit would only confuse that.
                http.Timeout = Timeout.InfiniteTimeSpan;
                http.DefaultRequestHeaders.Add("APCA-API-KEY-ID", credentials.KeyId);
                http.DefaultRequestHeaders.Add("APCA-API-SECRET-KEY", credentials.SecretKey);
            })
            // Its sockets go through the broker connection's cut, which the network-loss drill uses.
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredKeyedService<ConnectionCut>(ConnectionCut.Broker).CreateHttpHandler())
            // Header values never reach a log, whatever the log level.
            .RedactLoggedHeaders(_ => true)
            // Outermost, so a refused live URL fails once rather than being retried.
            .AddHttpMessageHandler(sp => new LivePhaseGuard(sp.GetService<Portal.Features.Readiness.DeploymentPhaseStore>()))
            .AddResilienceHandler("alpaca", (pipeline, context) =>
            {
                var options = context.ServiceProvider.GetRequiredService<IOptions<AlpacaOptions>>().Value;
                var clock = context.ServiceProvider.GetRequiredService<TimeProvider>();
                pipeline.TimeProvider = clock;
                pipeline.AddTimeout(options.TotalTimeout);
                if (options.MaxRetries > 0)
                {
                    var retry = new HttpRetryStrategyOptions
                    {
                        MaxRetryAttempts = options.MaxRetries,
                        Delay = options.RetryDelay,
                        BackoffType = DelayBackoffType.Exponential,
                        UseJitter = true,
                        DelayGenerator = args => ValueTask.FromResult(AlpacaRetry.ServerRequestedDelay(args.Outcome.Result, clock)),
                    };
                    // Only reads are retried here: a POST that timed out may have created an order (AlpacaClient.SubmitOrderAsync
                    // settles that by looking it up), and a DELETE of all orders or positions is not repeated behind the caller's back.
                    retry.DisableForUnsafeHttpMethods();
                    pipeline.AddRetry(retry);
                }
                pipeline.AddTimeout(options.RequestTimeout);
            });
        services.TryAddKeyedSingleton(ConnectionCut.Broker, new ConnectionCut(ConnectionCut.Broker));
        services.AddSingleton<AlpacaClient>();
        return services;
    }

    /// <summary>The Alpaca broker: client, trade-updates stream, the refresh loop and the account's <c>suspend_trade</c> kill path.</summary>
    public static IServiceCollection AddAlpacaBroker(this IServiceCollection services)
    {
        services.AddAlpacaClient();
        services.AddSingleton<AlpacaBroker>();
        services.AddSingleton<IBroker>(sp => sp.GetRequiredService<AlpacaBroker>());
        services.AddHostedService(sp => sp.GetRequiredService<AlpacaBroker>());
        services.AddSingleton<AlpacaTradeStream>();
        services.AddHostedService(sp => sp.GetRequiredService<AlpacaTradeStream>());
        services.AddSingleton<IBrokerKillPath, AlpacaKillPath>();
        services.AddSingleton<AlpacaMarketClock>();
        services.AddSingleton<IMarketClock>(sp => sp.GetRequiredService<AlpacaMarketClock>());
        services.AddHostedService(sp => sp.GetRequiredService<AlpacaMarketClock>());
        services.AddSingleton<AlpacaMarketDataStream>();
        services.AddHostedService(sp => sp.GetRequiredService<AlpacaMarketDataStream>());
        return services;
    }
}

public static class AlpacaRetry
{
    /// <summary>
    /// How long Alpaca asked us to wait: <c>Retry-After</c> (seconds or a date), or on a 429 its
    /// <c>X-RateLimit-Reset</c> (epoch seconds). Null lets the exponential backoff decide.
    /// </summary>
    public static TimeSpan? ServerRequestedDelay(HttpResponseMessage? response, TimeProvider clock)
    {
        if (response is null) return null;
        var now = clock.GetUtcNow();
        TimeSpan? wait = response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - now,
            _ => null,
        };
        if (wait is null && response.StatusCode == HttpStatusCode.TooManyRequests
            && response.Headers.TryGetValues("X-RateLimit-Reset", out var values)
            && long.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var reset))
            wait = DateTimeOffset.FromUnixTimeSeconds(reset) - now;
        return wait is { } w && w < TimeSpan.Zero ? TimeSpan.Zero : wait;
    }
}
