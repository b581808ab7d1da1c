namespace Portal.Features.Auth;

public sealed class ApiKey
{
    public Guid Id { get; set; }
    public required string Name { get; set; }
    public required string KeyPrefix { get; set; }
    public required byte[] KeyHash { get; set; }
    public required string[] Scopes { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
}

/// <summary>What a machine client may do. Each endpoint requires exactly one.</summary>
public static class Scopes
{
    public const string Orders = "orders";
    public const string Ticks = "ticks";
    public const string Observations = "observations";
    public const string Halt = "halt";
    public const string Limits = "limits";

    /// <summary>Verify and export the audit trail (until the Compliance role exists).</summary>
    public const string Audit = "audit";

    public static readonly IReadOnlyList<string> All = [Orders, Ticks, Observations, Halt, Limits, Audit];

    public static string Policy(string scope) => "scope:" + scope;
}
