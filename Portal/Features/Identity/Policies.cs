using Portal.Features.Auth;

namespace Portal.Features.Identity;

/// <summary>
/// Authorization policies for people (signed in with the Identity cookie, or single sign-on mapped
/// onto it). Every page and endpoint names exactly one policy, or [AllowAnonymous]; the
/// authorization matrix test fails for any that does not.
/// <list type="bullet">
/// <item>Role policies (<see cref="AnyStaff"/> ... <see cref="Admin"/>) accept only the sign-in cookie.</item>
/// <item>Scope policies (<see cref="Scopes.Policy"/>) accept only API keys.</item>
/// <item><see cref="ScopeOr"/> policies accept either: an API key holding the scope, or a person
/// holding one of the role policy's roles (e.g. the emergency stop: scope <c>halt</c> or OnCall/RiskOfficer).</item>
/// </list>
/// </summary>
public static class Policies
{
    /// <summary>Any of the four roles. A signed-in user without a role gets nothing.</summary>
    public const string AnyStaff = "role:AnyStaff";

    /// <summary>May halt trading: OnCall or RiskOfficer.</summary>
    public const string CanHalt = "role:CanHalt";

    /// <summary>RiskOfficer only (limits, resume, approvals).</summary>
    public const string RiskOfficer = "role:RiskOfficer";

    /// <summary>May read the audit trail: Compliance, Admin, or RiskOfficer (read-only).</summary>
    public const string AuditReader = "role:AuditReader";

    /// <summary>Compliance work (verify, export): Compliance or Admin.</summary>
    public const string Compliance = "role:Compliance";

    /// <summary>Admin only (users, roles, API keys).</summary>
    public const string Admin = "role:Admin";

    /// <summary>
    /// Prometheus scrapers: admitted by network or scrape token (Metrics:*), never by a person's role or an API key.
    /// </summary>
    public const string MetricsScraper = "scraper:Metrics";

    /// <summary>
    /// Any API key (whatever its scope) or any staff member: for reading what every client may see,
    /// such as the trading state and the live event hub. Spelled as the alternatives it admits.
    /// </summary>
    public static readonly string AnyCaller = string.Join("|", Scopes.All.Select(Scopes.Policy)) + "|" + AnyStaff;

    /// <summary>
    /// The emergency stop: an API key with <c>halt</c> or <c>flatten</c>, or an OnCall/RiskOfficer person. Which mode each
    /// may choose is <see cref="MayFlatten"/>'s to say: flattening liquidates the book, so a halt key or OnCall cannot.
    /// </summary>
    public static readonly string EmergencyStop = Scopes.Policy(Scopes.Halt) + "|" + Scopes.Policy(Scopes.Flatten) + "|" + CanHalt;

    /// <summary>May close every position (halt mode <c>flatten</c>): an API key with the <c>flatten</c> scope or a RiskOfficer person.</summary>
    public static readonly string MayFlatten = Scopes.Policy(Scopes.Flatten) + "|" + RiskOfficer;

    /// <summary>The roles each role policy admits.</summary>
    public static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> RolesOf = new Dictionary<string, IReadOnlyList<string>>
    {
        [AnyStaff] = Roles.All,
        [CanHalt] = [Roles.OnCall, Roles.RiskOfficer],
        [RiskOfficer] = [Roles.RiskOfficer],
        [AuditReader] = [Roles.Compliance, Roles.Admin, Roles.RiskOfficer],
        [Compliance] = [Roles.Compliance, Roles.Admin],
        [Admin] = [Roles.Admin],
    };

    /// <summary>
    /// The policy admitting an API key with <paramref name="scope"/> or a person the role policy
    /// <paramref name="rolePolicy"/> admits, e.g. <c>ScopeOr(Scopes.Halt, Policies.CanHalt)</c> =
    /// <c>"scope:halt|role:CanHalt"</c>. Every combination is registered at startup.
    /// </summary>
    public static string ScopeOr(string scope, string rolePolicy)
    {
        if (!Scopes.All.Contains(scope)) throw new ArgumentException($"Unknown scope '{scope}'.", nameof(scope));
        if (!RolesOf.ContainsKey(rolePolicy)) throw new ArgumentException($"Unknown role policy '{rolePolicy}'.", nameof(rolePolicy));
        return Scopes.Policy(scope) + "|" + rolePolicy;
    }

    /// <summary>Requires <see cref="ScopeOr"/>: an API key with the scope, or a person the role policy admits.</summary>
    public static TBuilder RequireScopeOr<TBuilder>(this TBuilder builder, string scope, string rolePolicy) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(ScopeOr(scope, rolePolicy));
}
