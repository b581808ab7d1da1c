namespace Portal.Features.Identity;

/// <summary>
/// The people who use Portal. Each role is a row in AspNetRoles (seeded by migrations/0004_identity.sql);
/// a user may hold several. Machines never hold roles: they use API keys with scopes.
/// </summary>
public static class Roles
{
    /// <summary>Sets and approves limits, halts and resumes trading, sees positions and orders.</summary>
    public const string RiskOfficer = "RiskOfficer";

    /// <summary>The engineer on call: halts trading, sees positions and orders.</summary>
    public const string OnCall = "OnCall";

    /// <summary>Reads, verifies and exports the audit trail.</summary>
    public const string Compliance = "Compliance";

    /// <summary>Manages users, roles and API keys; reads the audit trail.</summary>
    public const string Admin = "Admin";

    public static readonly IReadOnlyList<string> All = [RiskOfficer, OnCall, Compliance, Admin];

    /// <summary>
    /// Roles an Admin's grant does not give at once: a second, different Admin approves it (the admin page). They can loosen
    /// controls (limits, resume, approvals; users and keys). OnCall and Compliance only halt or read, and removing any role
    /// only tightens, so those take effect at once. The CLI (<c>create-user</c>) is the bootstrap path for the first Admin.
    /// </summary>
    public static readonly IReadOnlyList<string> NeedingApproval = [RiskOfficer, Admin];

    /// <summary>The canonical spelling of a role name given in any letter case, or null if it is not a role.</summary>
    public static string? Parse(string? name) =>
        All.FirstOrDefault(r => string.Equals(r, name?.Trim(), StringComparison.OrdinalIgnoreCase));
}
