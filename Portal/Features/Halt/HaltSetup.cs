using Microsoft.Extensions.Options;
using Portal.Features.Auth;

namespace Portal.Features.Halt;

public static class HaltPolicies
{
    /// <summary>Machines with the halt scope (a pager or monitor) and, with sign-in, OnCall and RiskOfficer people.</summary>
    public const string CanHalt = "halt:stop";
    /// <summary>Resume and approvals: RiskOfficer people only, never a machine key.</summary>
    public const string RiskOfficer = "halt:risk-officer";
}

public static class HaltSetup
{
    public static IHostApplicationBuilder AddKillSwitch(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<HaltOptions>().BindConfiguration(HaltOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<HaltOptions>, HaltOptionsValidator>();
        builder.Services.AddOptions<AlertOptions>().BindConfiguration(AlertOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AlertOptions>, AlertOptionsValidator>();
        builder.Services.AddHttpClient(nameof(AlertPublisher), client => client.Timeout = TimeSpan.FromSeconds(5));

        builder.Services.AddSingleton<AlertPublisher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AlertPublisher>());
        builder.Services.AddSingleton<TradingStateStore>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<TradingStateStore>());
        builder.Services.AddSingleton<SafeModeMonitor>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<SafeModeMonitor>());
        builder.Services.AddSingleton<KillSwitch>();
        builder.Services.AddSingleton<AutoHaltMonitor>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AutoHaltMonitor>());

        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(HaltPolicies.CanHalt, p => p.AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName).RequireAuthenticatedUser()
                .RequireAssertion(c => c.User.HasClaim(ApiKeyAuthenticationHandler.ScopeClaim, Scopes.Halt) || c.User.IsInRole("OnCall") || c.User.IsInRole("RiskOfficer")))
            .AddPolicy(HaltPolicies.RiskOfficer, p => p.RequireAuthenticatedUser().RequireRole("RiskOfficer"));
        return builder;
    }
}
