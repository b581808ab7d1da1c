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

    /// <summary>The person answerable for the key (their user name), or null for a key no person answers for.</summary>
    public string? Owner { get; set; }
}

/// <summary>What a machine client may do. Each endpoint requires exactly one.</summary>
public static class Scopes
{
    public const string Orders = "orders";
    public const string Ticks = "ticks";
    public const string Observations = "observations";
    /// <summary>Halt trading and cancel open orders (a pager or monitor).</summary>
    public const string Halt = "halt";

    /// <summary>Halt and close every position: liquidating the book is its own, riskier power than <see cref="Halt"/>.</summary>
    public const string Flatten = "flatten";
    public const string Limits = "limits";

    /// <summary>Verify and export the audit trail (until the Compliance role exists).</summary>
    public const string Audit = "audit";

    public static readonly IReadOnlyList<string> All = [Orders, Ticks, Observations, Halt, Flatten, Limits, Audit];

    public static string Policy(string scope) => "scope:" + scope;
}
