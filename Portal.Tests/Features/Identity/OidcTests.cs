using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Portal.Features.Identity;
using Portal.Tests.Features.Audit;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Identity;

/// <summary>Single sign-on: off by default, validated when on, provisioning local users on the record. No provider is contacted here.</summary>
public sealed class OidcTests
{
    private static Dictionary<string, string?> Enabled(string? secret = "s3cret") => new()
    {
        ["Authentication:Oidc:Authority"] = "https://login.example.test/tenant/v2.0",
        ["Authentication:Oidc:ClientId"] = "portal",
        ["Authentication:Oidc:ClientSecret"] = secret,
        ["Authentication:Oidc:RoleClaim"] = "groups",
        ["Authentication:Oidc:RoleMap:risk-desk"] = "RiskOfficer",
        ["Authentication:Oidc:RoleMap:sre"] = "OnCall",
    };

    [Fact]
    public async Task It_is_off_by_default_no_scheme_no_endpoints_no_button()
    {
        await using var portal = await PortalFactory.StartAsync();

        Assert.False(portal.Get<IOptions<OidcOptions>>().Value.Enabled);
        Assert.Null(await portal.Get<IAuthenticationSchemeProvider>().GetSchemeAsync(OidcOptions.Scheme));
        Assert.DoesNotContain(portal.Get<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>(),
            e => e.RoutePattern.RawText?.StartsWith("/account/login/external", StringComparison.Ordinal) == true);
        Assert.DoesNotContain("id=\"sso\"", await portal.CreateBrowserClient().GetStringAsync(IdentitySetup.LoginPath));
    }

    [Fact]
    public async Task Configured_it_registers_a_code_flow_scheme_signing_in_through_identitys_external_cookie()
    {
        await using var portal = await PortalFactory.StartAsync(Enabled());

        Assert.NotNull(await portal.Get<IAuthenticationSchemeProvider>().GetSchemeAsync(OidcOptions.Scheme));
        var o = portal.Get<IOptionsMonitor<OpenIdConnectOptions>>().Get(OidcOptions.Scheme);
        Assert.Equal("https://login.example.test/tenant/v2.0", o.Authority);
        Assert.Equal(("portal", "s3cret"), (o.ClientId, o.ClientSecret));
        Assert.Equal("code", o.ResponseType);
        Assert.True(o.UsePkce);
        Assert.True(o.RequireHttpsMetadata);
        Assert.False(o.SaveTokens);
        Assert.Equal(IdentityConstants.ExternalScheme, o.SignInScheme);
        Assert.Equal("groups", o.TokenValidationParameters.RoleClaimType);
        Assert.Equal(["email", "openid", "profile"], o.Scope.Order());

        var client = portal.CreateBrowserClient();
        var page = await client.GetStringAsync(IdentitySetup.LoginPath);
        Assert.Contains("id=\"sso\"", page);
        Assert.Contains("Single sign-on", page);
        // The button's form carries an antiforgery token; without one the challenge is refused.
        var forged = await client.PostAsync("/account/login/external", new FormUrlEncodedContent(new Dictionary<string, string> { ["returnUrl"] = "/" }));
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
    }

    [Fact]
    public async Task An_incomplete_configuration_stops_the_host_naming_each_bad_key()
    {
        var settings = Enabled(secret: null);
        settings["Authentication:Oidc:RoleMap:auditors"] = "Auditor";
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => PortalFactory.StartAsync(settings));
        var validation = ex as OptionsValidationException ?? ex.InnerException as OptionsValidationException ?? (ex as AggregateException)?.InnerExceptions.OfType<OptionsValidationException>().FirstOrDefault();
        Assert.NotNull(validation);
        Assert.Contains(validation.Failures, f => f.Contains("ClientSecret", StringComparison.Ordinal));
        Assert.Contains(validation.Failures, f => f.Contains("RoleMap:auditors", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("not a url", "portal", "secret", "Authority")]
    [InlineData("http://idp.example.test", "portal", "secret", "Authority")]
    [InlineData("https://idp.example.test", "", "secret", "ClientId")]
    [InlineData("https://idp.example.test", "portal", "", "ClientSecret")]
    public void The_validator_names_the_missing_or_bad_setting(string authority, string clientId, string secret, string key)
    {
        var result = new OidcOptionsValidator().Validate(null, new OidcOptions { Authority = authority, ClientId = clientId, ClientSecret = secret });
        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains(key, StringComparison.Ordinal));
    }

    [Fact]
    public void The_validator_accepts_a_complete_configuration_and_plain_http_only_when_asked()
    {
        var options = new OidcOptions { Authority = "http://localhost:8080/realms/portal", ClientId = "portal", ClientSecret = "x", RequireHttpsMetadata = false };
        options.RoleMap["ops"] = "oncall";
        Assert.True(new OidcOptionsValidator().Validate(null, options).Succeeded);
        Assert.True(new OidcOptionsValidator().Validate(null, new OidcOptions()).Succeeded); // off
    }

    [Fact]
    public void Provider_roles_map_through_the_role_map_or_by_name_and_unknown_ones_are_dropped()
    {
        var options = new OidcOptions();
        options.RoleMap["risk-desk"] = "RiskOfficer";
        options.RoleMap["sre"] = "oncall";
        Assert.Equal([Roles.OnCall, Roles.RiskOfficer], options.MapRoles(["risk-desk", "sre", "everyone", "sre"]));
        Assert.Equal([Roles.Admin, Roles.Compliance], options.MapRoles(["admin", "Compliance"]));
        Assert.Empty(options.MapRoles([]));
    }

    [Fact]
    public async Task A_provider_login_becomes_a_linked_local_user_whose_roles_follow_the_provider()
    {
        await using var portal = await PortalFactory.StartAsync(Enabled());
        static ExternalLoginInfo Login(string subject, string? email, params string[] groups)
        {
            var claims = new List<Claim> { new(ClaimTypes.NameIdentifier, subject) };
            if (email is not null) claims.Add(new Claim("email", email));
            claims.AddRange(groups.Select(g => new Claim("groups", g)));
            return new ExternalLoginInfo(new ClaimsPrincipal(new ClaimsIdentity(claims, "oidc")), OidcOptions.Scheme, subject, "SSO");
        }
        async Task<ExternalSignIn.Outcome> Provision(ExternalLoginInfo info)
        {
            await using var scope = portal.Services.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<ExternalSignIn>().ProvisionAsync(info, "127.0.0.1", CancellationToken.None);
        }
        async Task<IList<string>> RolesOf(string email)
        {
            await using var scope = portal.Services.CreateAsyncScope();
            var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
            return await users.GetRolesAsync((await users.FindByEmailAsync(email))!);
        }

        var first = await Provision(Login("sub-1", "ana@corp.example", "risk-desk", "everyone"));
        Assert.Null(first.Error);
        Assert.Equal([Roles.RiskOfficer], await RolesOf("ana@corp.example"));

        var again = await Provision(Login("sub-1", "ana@corp.example", "sre"));
        Assert.Equal(first.User!.Id, again.User!.Id);
        Assert.Equal([Roles.OnCall], await RolesOf("ana@corp.example"));

        var local = await portal.CreateUserAsync(Roles.Admin);
        var takeover = await Provision(Login("sub-2", local.Email, "admin"));
        Assert.Null(takeover.User);
        Assert.Contains("already has this email", takeover.Error);
        Assert.Equal([Roles.Admin], await RolesOf(local.Email));

        Assert.Null((await Provision(Login("sub-3", null, "sre"))).User);

        // The provider grants roles without the admin page's four eyes: each grant and removal is on the record.
        var byProvider = (await portal.EventsAsync("user.")).Where(e => e.Actor == ExternalSignIn.Method)
            .Select(e => (e.Type, e.Payload.GetProperty("email").GetString(), e.Payload.TryGetProperty("role", out var role) ? role.GetString() : null));
        Assert.Equal([
            ("user.created", "ana@corp.example", null),
            ("user.role_added", "ana@corp.example", Roles.RiskOfficer),
            ("user.role_removed", "ana@corp.example", Roles.RiskOfficer),
            ("user.role_added", "ana@corp.example", Roles.OnCall),
        ], byProvider);
    }
}
