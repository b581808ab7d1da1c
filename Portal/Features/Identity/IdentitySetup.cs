using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Features.Auth;

namespace Portal.Features.Identity;

/// <summary>
/// People sign in with ASP.NET Core Identity (users and roles in PostgreSQL) or, when configured,
/// single sign-on through OpenID Connect; machines keep using API keys. Requests carrying an
/// <c>Authorization</c> header are authenticated as API keys, all others by the sign-in cookie.
/// </summary>
public static class IdentitySetup
{
    /// <summary>The default scheme: forwards to "ApiKey" when an Authorization header is present, else to the sign-in cookie.</summary>
    public const string ApiKeyOrCookieScheme = "ApiKeyOrCookie";
    public const string CookieName = "portal.session";
    public const string LoginPath = "/account/login";
    public const string LogoutPath = "/account/logout";
    public const string AccessDeniedPath = "/account/access-denied";
    public const string ManagePath = "/account/manage";
    public static readonly TimeSpan SessionLifetime = TimeSpan.FromHours(12);
    /// <summary>How often an open page (an interactive circuit, which keeps the sign-in it started with) is checked again.</summary>
    public static readonly TimeSpan RevalidationInterval = TimeSpan.FromSeconds(5);

    /// <summary>Users, roles and the services that change them, without any HTTP part (for the CLI).</summary>
    public static IdentityBuilder AddPortalIdentityStores(this IServiceCollection services)
    {
        services.AddDbContext<PortalIdentityDbContext>((sp, options) => options.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>()));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ISecurityEventSink, LoggingSecurityEventSink>();
        services.AddScoped<UserAccounts>();
        return services.AddIdentityCore<IdentityUser>(ConfigureIdentity)
            .AddRoles<IdentityRole>()
            .AddEntityFrameworkStores<PortalIdentityDbContext>();
    }

    internal static void ConfigureIdentity(IdentityOptions o)
    {
        o.Stores.SchemaVersion = IdentitySchemaVersions.Version3;
        // Length over composition (NIST SP 800-63B §5.1.1): long passphrases, no forced symbol mix.
        o.Password.RequiredLength = 12;
        o.Password.RequiredUniqueChars = 5;
        o.Password.RequireDigit = false;
        o.Password.RequireLowercase = false;
        o.Password.RequireUppercase = false;
        o.Password.RequireNonAlphanumeric = false;
        // Failed passwords never lock an account (SignInThrottle slows guessing instead); an Admin's lock still holds.
        o.Lockout.AllowedForNewUsers = true;
        o.User.RequireUniqueEmail = true;
        o.SignIn.RequireConfirmedAccount = false;
    }

    public static IHostApplicationBuilder AddPortalIdentity(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        // Token providers (password reset and the like) need Data Protection, which only the web host has.
        services.AddPortalIdentityStores().AddSignInManager().AddDefaultTokenProviders();
        services.AddScoped<PasswordSignIn>();
        services.AddSingleton<SignInThrottle>();
        services.AddSingleton<PageAccess>();
        services.AddOptions<SignInThrottleOptions>().BindConfiguration(SignInThrottleOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<SignInThrottleOptions>, SignInThrottleOptionsValidator>();
        services.AddScoped<ExternalSignIn>();
        services.AddScoped<PasskeyAccounts>();
        services.AddScoped<PasswordConfirmation>();
        services.AddOptions<PasskeyOptions>().BindConfiguration(PasskeyOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<PasskeyOptions>, PasskeyOptionsValidator>();
        services.AddOptions<IdentityPasskeyOptions>().Configure<IOptions<PasskeyOptions>>((identity, portal) => PasskeyOptionsValidator.Apply(identity, portal.Value));

        services.AddAuthentication()
            .AddPolicyScheme(ApiKeyOrCookieScheme, "API key or sign-in cookie", o => o.ForwardDefaultSelector = context =>
                context.Request.Headers.Authorization.Count > 0 ? ApiKeySchemeName : IdentityConstants.ApplicationScheme)
            .AddIdentityCookies();
        // Post-configured so it holds whatever order AddPortalAuth and this run in.
        services.PostConfigure<AuthenticationOptions>(o =>
        {
            o.DefaultScheme = ApiKeyOrCookieScheme;
            o.DefaultAuthenticateScheme = ApiKeyOrCookieScheme;
            o.DefaultChallengeScheme = ApiKeyOrCookieScheme;
            o.DefaultForbidScheme = ApiKeyOrCookieScheme;
            o.DefaultSignInScheme = IdentityConstants.ExternalScheme;
        });
        services.ConfigureApplicationCookie(o =>
        {
            o.Cookie.Name = CookieName;
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.ExpireTimeSpan = SessionLifetime;
            o.SlidingExpiration = true;
            o.LoginPath = LoginPath;
            o.LogoutPath = LogoutPath;
            o.AccessDeniedPath = AccessDeniedPath;
            o.ReturnUrlParameter = "returnUrl";
            ApiAwareCookieEvents.Apply(o.Events);
        });
        // The short-lived cookie that carries a single sign-on result back from the provider must survive
        // the provider's cross-site redirect, which SameSite=Strict would drop.
        services.Configure<CookieAuthenticationOptions>(IdentityConstants.ExternalScheme, o =>
        {
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Lax;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        });
        // Every request by a person is checked against Postgres, its roles read again: removing a role or locking someone
        // applies to their next request, not minutes later. People's requests are few; machines use API keys.
        services.Configure<SecurityStampValidatorOptions>(o => o.ValidationInterval = TimeSpan.Zero);
        services.AddAntiforgery(o =>
        {
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        });
        var dataProtection = services.AddDataProtection().SetApplicationName("Portal");
        services.AddOptions<KeyRingProtectionOptions>().BindConfiguration(KeyRingProtectionOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<KeyRingProtectionOptions>, KeyRingProtectionOptionsValidator>();
        // Read now: the key ring's encryptor is fixed when services are registered. A missing certificate is left to the
        // validator (which allows it only in Development and Test); an unusable one stops start-up here, naming the key.
        if (builder.Configuration.GetSection(KeyRingProtectionOptions.Section).Get<KeyRingProtectionOptions>()?.LoadCertificate() is { } certificate)
            dataProtection.ProtectKeysWithCertificate(certificate).UnprotectKeysWithAnyCertificate(certificate);
        services.AddOptions<KeyManagementOptions>().Configure<NpgsqlDataSource>((o, dataSource) => o.XmlRepository = new PostgresXmlRepository(dataSource));
        services.AddHostedService<SharedKeyRing>();

        AddPolicies(services);
        services.AddCascadingAuthenticationState();
        services.AddScoped<AuthenticationStateProvider, RevalidatingIdentityStateProvider>();
        AddOidc(builder);
        return builder;
    }

    private const string ApiKeySchemeName = ApiKeyAuthenticationHandler.SchemeName;

    private static void AddPolicies(IServiceCollection services)
    {
        var authorization = services.AddAuthorizationBuilder();
        foreach (var (name, roles) in Policies.RolesOf)
        {
            authorization.AddPolicy(name, p => p
                .AddAuthenticationSchemes(IdentityConstants.ApplicationScheme)
                .RequireAuthenticatedUser()
                .RequireRole(roles));
            foreach (var scope in Scopes.All)
                authorization.AddPolicy(Policies.ScopeOr(scope, name), p => p
                    .AddAuthenticationSchemes(ApiKeyOrCookieScheme)
                    .RequireAuthenticatedUser()
                    .AddRequirements(new ScopeOrRoleRequirement([scope], roles)));
        }
        authorization.AddPolicy(Policies.EmergencyStop, p => p
            .AddAuthenticationSchemes(ApiKeyOrCookieScheme)
            .RequireAuthenticatedUser()
            .AddRequirements(new ScopeOrRoleRequirement([Scopes.Halt, Scopes.Flatten], Policies.RolesOf[Policies.CanHalt])));
        authorization.AddPolicy(Policies.AnyCaller, p => p
            .AddAuthenticationSchemes(ApiKeyOrCookieScheme)
            .RequireAuthenticatedUser()
            .AddRequirements(new ScopeOrRoleRequirement(Scopes.All, Roles.All)));
        // Anything that names no policy still needs someone signed in; the matrix test makes sure nothing relies on this.
        authorization.SetFallbackPolicy(new AuthorizationPolicyBuilder(ApiKeyOrCookieScheme).RequireAuthenticatedUser().Build());
    }

    private static void AddOidc(IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<OidcOptions>().BindConfiguration(OidcOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<OidcOptions>, OidcOptionsValidator>();
        var configured = builder.Configuration.GetSection(OidcOptions.Section).Get<OidcOptions>();
        if (configured?.Enabled != true) return;

        builder.Services.AddAuthentication().AddOpenIdConnect(OidcOptions.Scheme, configured.DisplayName, _ => { });
        builder.Services.AddOptions<OpenIdConnectOptions>(OidcOptions.Scheme).Configure<IOptions<OidcOptions>>((o, portal) =>
            ConfigureOpenIdConnect(o, portal.Value));
    }

    internal static void ConfigureOpenIdConnect(OpenIdConnectOptions o, OidcOptions portal)
    {
        o.Authority = portal.Authority;
        o.ClientId = portal.ClientId;
        o.ClientSecret = portal.ClientSecret;
        o.RequireHttpsMetadata = portal.RequireHttpsMetadata;
        o.ResponseType = "code";
        o.UsePkce = true;
        o.SaveTokens = false;
        o.GetClaimsFromUserInfoEndpoint = true;
        o.MapInboundClaims = false;
        o.SignInScheme = IdentityConstants.ExternalScheme;
        o.CallbackPath = "/signin-oidc";
        o.Scope.Clear();
        foreach (var scope in portal.EffectiveScopes) o.Scope.Add(scope);
        o.TokenValidationParameters.NameClaimType = portal.EmailClaim;
        o.TokenValidationParameters.RoleClaimType = portal.RoleClaim;
        o.ClaimActions.MapJsonKey(portal.RoleClaim, portal.RoleClaim);
        o.ClaimActions.MapUniqueJsonKey(portal.EmailClaim, portal.EmailClaim);
        o.Events.OnTokenValidated = context =>
        {
            // Identity links the provider login by the NameIdentifier claim: the token's subject.
            if (context.Principal?.Identity is System.Security.Claims.ClaimsIdentity identity
                && identity.FindFirst(System.Security.Claims.ClaimTypes.NameIdentifier) is null
                && identity.FindFirst("sub") is { } subject)
                identity.AddClaim(new System.Security.Claims.Claim(System.Security.Claims.ClaimTypes.NameIdentifier, subject.Value));
            return Task.CompletedTask;
        };
        o.Events.OnRemoteFailure = context =>
        {
            context.Response.Redirect(LoginPath + "?error=sso");
            context.HandleResponse();
            return Task.CompletedTask;
        };
    }
}
