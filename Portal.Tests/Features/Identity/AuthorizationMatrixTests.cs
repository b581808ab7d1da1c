using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticAssets;
using Microsoft.Extensions.DependencyInjection;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Identity;

/// <summary>
/// Route × role authorization matrix. Every endpoint (API, page, framework) must name a policy or be
/// [AllowAnonymous]; then every endpoint is called as every kind of caller (anonymous, each role,
/// a signed-in user without a role, an API key per scope) and must admit exactly the callers its
/// policies admit according to <see cref="PolicyRoles"/>: the table below is the specification.
/// A new policy must be added to the table; new endpoints are covered without any change here.
/// </summary>
public sealed partial class AuthorizationMatrixTests : IAsyncLifetime
{
    /// <summary>Who each role policy admits: the specification, written out independently of Portal's own table.</summary>
    private static readonly Dictionary<string, string[]> PolicyRoles = new()
    {
        [Policies.AnyStaff] = [Roles.RiskOfficer, Roles.OnCall, Roles.Compliance, Roles.Admin],
        [Policies.CanHalt] = [Roles.OnCall, Roles.RiskOfficer],
        [Policies.RiskOfficer] = [Roles.RiskOfficer],
        [Policies.AuditReader] = [Roles.Compliance, Roles.Admin, Roles.RiskOfficer],
        [Policies.Compliance] = [Roles.Compliance, Roles.Admin],
        [Policies.Admin] = [Roles.Admin],
        // Admitted by network or scrape token only (Metrics:*): no role, no API key; the matrix's callers come from no allowed network.
        [Policies.MetricsScraper] = [],
    };

    private sealed record Caller(string Name, HttpClient Client, string? Role = null, string? Scope = null, bool Anonymous = false);

    private PortalFactory _portal = null!;
    private readonly List<Caller> _callers = [];

    public async Task InitializeAsync()
    {
        // As published: without the build-output-only static-file fallback endpoint ({**path:file}) that a test host adds.
        _portal = await PortalFactory.StartAsync(new Dictionary<string, string?>
        {
            ["DisableStaticAssetNotFoundRuntimeFallback"] = "true",
            ["Metrics:AllowedNetworks"] = "192.0.2.0/24", // TEST-NET-1: no caller here comes from it
        });
        _callers.Add(new Caller("anonymous", _portal.CreateBrowserClient(), Anonymous: true));
        foreach (var role in Roles.All) _callers.Add(new Caller(role, await _portal.ClientSignedInAsAsync(role), Role: role));
        _callers.Add(new Caller("signed-in, no role", await _portal.ClientSignedInAsAsync()));
        foreach (var scope in Scopes.All)
        {
            var (key, _) = await _portal.Get<ApiKeyService>().CreateAsync("matrix-" + scope, [scope]);
            var client = _portal.CreateBrowserClient();
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            _callers.Add(new Caller("API key " + scope, client, Scope: scope));
        }
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    private IReadOnlyList<RouteEndpoint> Endpoints =>
        _portal.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();

    [Fact]
    public void Every_endpoint_names_a_policy_or_is_explicitly_anonymous()
    {
        var offenders = new List<string>();
        foreach (var endpoint in Endpoints)
        {
            var anonymous = endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null;
            var authorize = endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>();
            var problem = authorize.Any(a => string.IsNullOrEmpty(a.Policy) || !string.IsNullOrEmpty(a.Roles))
                ? "has [Authorize] without a policy name (or with Roles=); name a Policies.* policy"
                : !anonymous && authorize.Count == 0 && endpoint.Metadata.GetMetadata<AuthorizationPolicy>() is null
                    ? "names no policy and is not [AllowAnonymous]"
                    : endpoint.Metadata.GetMetadata<AuthorizationPolicy>() is not null
                        ? "uses an unnamed AuthorizationPolicy; register and name it"
                        : null;
            if (problem is not null) offenders.Add($"{Describe(endpoint)}: {problem}");
        }
        Assert.True(offenders.Count == 0, "Endpoints without an explicit authorization decision:\n" + string.Join("\n", offenders));
    }

    [Fact]
    public async Task Every_endpoint_admits_exactly_the_callers_its_policy_allows()
    {
        var mismatches = new List<string>();
        var probes = 0;
        foreach (var endpoint in Endpoints.Where(e => e.Metadata.GetMetadata<StaticAssetDescriptor>() is null))
        {
            var policies = endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null
                ? []
                : endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy!).Distinct().ToList();
            var unknown = policies.Where(p => !IsKnown(p)).ToList();
            if (unknown.Count > 0)
            {
                mismatches.Add($"{Describe(endpoint)}: policy {string.Join(", ", unknown)} is not in the matrix; add who it admits to PolicyRoles");
                continue;
            }
            var url = SampleUrl(endpoint);
            var isApi = url.StartsWith("/api/", StringComparison.Ordinal) || url.StartsWith("/hubs/", StringComparison.Ordinal);
            foreach (var method in Methods(endpoint))
            foreach (var caller in _callers)
            {
                var expected = policies.All(p => Admits(p, caller));
                using var request = new HttpRequestMessage(new HttpMethod(method), url);
                if (method is "POST" or "PUT" or "PATCH") request.Content = new StringContent("", Encoding.UTF8, "application/json");
                using var response = await caller.Client.SendAsync(request);
                probes++;
                var denial = Denial(response);
                if ((int)response.StatusCode >= 500)
                    mismatches.Add($"{method} {url} as {caller.Name}: server error {(int)response.StatusCode}");
                else if (expected && denial is not null)
                    mismatches.Add($"{method} {url} as {caller.Name}: expected access, got {denial}");
                else if (!expected && denial is null)
                    mismatches.Add($"{method} {url} as {caller.Name}: expected denial, got {(int)response.StatusCode}");
                else if (!expected && isApi && (response.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                                                 || response.Content.Headers.ContentType?.MediaType != "application/problem+json"))
                    mismatches.Add($"{method} {url} as {caller.Name}: an API must deny with 401/403 problem details, got {denial}");
                else if (!expected && isApi && caller.Anonymous && response.StatusCode != HttpStatusCode.Unauthorized)
                    mismatches.Add($"{method} {url} as {caller.Name}: anonymous must get 401, got {(int)response.StatusCode}");
            }
        }
        Assert.True(probes > 100, $"only {probes} probes ran");
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {probes} probes disagree with the matrix:\n" + string.Join("\n", mismatches));
    }

    private static bool IsKnown(string policy) => policy.Split('|').All(p => PolicyRoles.ContainsKey(p) || ScopeOf(p) is not null);

    private static string? ScopeOf(string policy) =>
        Scopes.All.FirstOrDefault(s => Scopes.Policy(s) == policy);

    /// <summary>A "|" joins alternatives (Policies.ScopeOr): any part admitting the caller is enough.</summary>
    private static bool Admits(string policy, Caller caller) => policy.Split('|').Any(part =>
        ScopeOf(part) is { } scope ? caller.Scope == scope : caller.Role is not null && PolicyRoles[part].Contains(caller.Role));

    /// <summary>How the response refuses the caller, or null if it let the request through.</summary>
    private static string? Denial(HttpResponseMessage response)
    {
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden) return ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (response.StatusCode is HttpStatusCode.Found or HttpStatusCode.SeeOther or HttpStatusCode.TemporaryRedirect
            && response.Headers.Location is { } location)
        {
            var path = location.IsAbsoluteUri ? location.AbsolutePath : location.OriginalString.Split('?')[0];
            if (path is IdentitySetup.LoginPath or IdentitySetup.AccessDeniedPath) return $"{(int)response.StatusCode} to {path}";
        }
        return null;
    }

    private static IEnumerable<string> Methods(RouteEndpoint endpoint)
    {
        var methods = endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? [];
        if (methods.Count == 0) return ["GET"];
        return methods.Where(m => m != "HEAD" || !methods.Contains("GET"));
    }

    private static string SampleUrl(RouteEndpoint endpoint)
    {
        var route = RouteParameter().Replace(endpoint.RoutePattern.RawText ?? "", m =>
            m.Value.Contains(":guid", StringComparison.OrdinalIgnoreCase) ? Guid.Empty.ToString()
            : m.Value.Contains(":int", StringComparison.OrdinalIgnoreCase) || m.Value.Contains(":long", StringComparison.OrdinalIgnoreCase) ? "0"
            : "matrix-probe");
        return route.StartsWith('/') ? route : "/" + route;
    }

    private static string Describe(RouteEndpoint endpoint) =>
        $"{string.Join(",", endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["*"])} {endpoint.RoutePattern.RawText} ({endpoint.DisplayName})";

    [GeneratedRegex(@"\{[^}]+\}")]
    private static partial Regex RouteParameter();
}
