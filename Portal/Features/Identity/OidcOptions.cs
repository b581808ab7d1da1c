using Microsoft.Extensions.Options;

namespace Portal.Features.Identity;

/// <summary>
/// Optional single sign-on through an OpenID Connect provider, section <c>Authentication:Oidc</c>.
/// Off unless <see cref="Authority"/> is set. The secret belongs in the environment
/// (<c>Authentication__Oidc__ClientSecret</c>), never in appsettings.
/// A provider user signs in as a local Identity user linked to the provider's subject; the local
/// user's roles are replaced at every sign-in by the provider's role claims mapped through <see cref="RoleMap"/>.
/// </summary>
public sealed class OidcOptions
{
    public const string Section = "Authentication:Oidc";
    public const string Scheme = "oidc";

    public string? Authority { get; set; }
    public string? ClientId { get; set; }
    public string? ClientSecret { get; set; }

    /// <summary>Button text on the sign-in page.</summary>
    public string DisplayName { get; set; } = "Single sign-on";

    /// <summary>The token or user-info claim holding the user's roles or groups (e.g. "roles", "groups").</summary>
    public string RoleClaim { get; set; } = "roles";

    /// <summary>The claim holding the email address used as the local user name.</summary>
    public string EmailClaim { get; set; } = "email";

    /// <summary>
    /// Provider value → Portal role (e.g. <c>"risk-desk": "RiskOfficer"</c>). Values not listed map to
    /// the Portal role of the same name (any case), or are ignored.
    /// </summary>
    public Dictionary<string, string> RoleMap { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Scopes to request; empty means openid, profile and email. (A list default would be appended to by configuration binding.)</summary>
    public List<string> Scopes { get; set; } = [];

    public IReadOnlyList<string> EffectiveScopes => Scopes.Count > 0 ? Scopes : ["openid", "profile", "email"];

    /// <summary>Only for a development provider on plain http.</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    public bool Enabled => !string.IsNullOrWhiteSpace(Authority);

    /// <summary>The Portal roles the provider's role claim values grant.</summary>
    public IReadOnlyList<string> MapRoles(IEnumerable<string> providerValues)
    {
        var roles = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var value in providerValues)
        {
            var role = RoleMap.TryGetValue(value, out var mapped) ? Roles.Parse(mapped) : Roles.Parse(value);
            if (role is not null) roles.Add(role);
        }
        return roles.ToList();
    }
}

public sealed class OidcOptionsValidator : IValidateOptions<OidcOptions>
{
    public ValidateOptionsResult Validate(string? name, OidcOptions o)
    {
        if (!o.Enabled) return ValidateOptionsResult.Success;
        var failures = new List<string>();
        if (!Uri.TryCreate(o.Authority, UriKind.Absolute, out var authority)
            || (authority.Scheme != Uri.UriSchemeHttps && (o.RequireHttpsMetadata || authority.Scheme != Uri.UriSchemeHttp)))
            failures.Add($"{OidcOptions.Section}:Authority must be an absolute https URL (http only with RequireHttpsMetadata=false), got '{o.Authority}'.");
        if (string.IsNullOrWhiteSpace(o.ClientId))
            failures.Add($"{OidcOptions.Section}:ClientId is required when Authority is set.");
        if (string.IsNullOrWhiteSpace(o.ClientSecret))
            failures.Add($"{OidcOptions.Section}:ClientSecret is required when Authority is set (set it in the environment: Authentication__Oidc__ClientSecret).");
        if (string.IsNullOrWhiteSpace(o.RoleClaim))
            failures.Add($"{OidcOptions.Section}:RoleClaim must name a claim.");
        if (string.IsNullOrWhiteSpace(o.EmailClaim))
            failures.Add($"{OidcOptions.Section}:EmailClaim must name a claim.");
        if (!o.EffectiveScopes.Contains("openid"))
            failures.Add($"{OidcOptions.Section}:Scopes must include 'openid'.");
        foreach (var (external, role) in o.RoleMap)
            if (Roles.Parse(role) is null)
                failures.Add($"{OidcOptions.Section}:RoleMap:{external} maps to '{role}', which is not one of {string.Join(", ", Roles.All)}.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
