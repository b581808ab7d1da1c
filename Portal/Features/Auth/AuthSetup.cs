using Microsoft.AspNetCore.Authentication;

namespace Portal.Features.Auth;

public static class AuthSetup
{
    public static IHostApplicationBuilder AddPortalAuth(this IHostApplicationBuilder builder)
    {
        builder.Services.AddMemoryCache();
        builder.Services.AddSingleton<ApiKeyService>();
        builder.Services.AddSingleton<ApiKeyExpiries>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ApiKeyExpiries>());
        builder.Services.AddOptions<ApiKeyOptions>().BindConfiguration(ApiKeyOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<ApiKeyOptions>, ApiKeyOptions.Validator>();
        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        var authorization = builder.Services.AddAuthorizationBuilder();
        foreach (var scope in Scopes.All)
            authorization.AddPolicy(Scopes.Policy(scope), p => p
                .AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName)
                .RequireAuthenticatedUser()
                .RequireClaim(ApiKeyAuthenticationHandler.ScopeClaim, scope));
        return builder;
    }
}
