namespace Portal.Features.Auth;

public sealed class ApiKey
{
    public Guid Id { get; set; }
    public required string Name { get; set; }
    public required string KeyPrefix { get; set; }
    public required byte[] KeyHash { get; set; }
    public required string[] Scopes { get; set; }
    /// <summary>The strategies the key may trade (see <see cref="StrategyGrants"/>); null for keys from before grants existed: none.</summary>
    public string[]? Strategies { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }

    /// <summary>When the key stops working by itself; null for a key that works until revoked.</summary>
    public DateTimeOffset? ExpiresAt { get; set; }

    public bool IsActiveAt(DateTimeOffset now) => RevokedAt is null && (ExpiresAt is null || ExpiresAt > now);

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

/// <summary>
/// Which strategy ids an API key may send orders for. A key lists its strategies, or <see cref="AllOpen"/> for every id
/// that is not reserved. Reserved ids belong to Portal itself and are refused to every key, <see cref="AllOpen"/> too:
/// <see cref="DrillStrategyId"/> (readiness drills: own global rate counters, never auto-halted) and any id starting with
/// <see cref="ReservedPrefix"/>. Reserved ids are matched ignoring case, so "DRILL" is no way around them.
/// </summary>
public static class StrategyGrants
{
    public const string AllOpen = "*";
    public const string DrillStrategyId = Portal.Infrastructure.Redis.RateCounter.DrillStrategyId;
    public const string ReservedPrefix = "portal-";
    public const string ClaimType = "strategy";
    private const int MaxIdLength = 64;

    public static bool IsReserved(string strategyId) =>
        strategyId.Equals(DrillStrategyId, StringComparison.OrdinalIgnoreCase) || strategyId.StartsWith(ReservedPrefix, StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether a key with <paramref name="granted"/> may trade <paramref name="strategyId"/>; no grant trades nothing.</summary>
    public static bool Allows(IEnumerable<string>? granted, string strategyId) =>
        granted is not null && !IsReserved(strategyId) && granted.Any(g => g == AllOpen || g == strategyId);

    /// <summary>The grant as stored (distinct, ordered), or an <see cref="ArgumentException"/> naming what is wrong.</summary>
    public static string[] Normalize(IReadOnlyCollection<string> strategies)
    {
        var bad = strategies.Where(s => s != AllOpen && !IsWellFormed(s)).ToList();
        if (bad.Count > 0)
            throw new ArgumentException($"Strategies must be '{AllOpen}' or ids of 1 to {MaxIdLength} characters of A-Z, a-z, 0-9, '-', '_', '.' or ':' (not: {string.Join(", ", bad)}).", nameof(strategies));
        var reserved = strategies.Where(IsReserved).ToList();
        if (reserved.Count > 0)
            throw new ArgumentException($"'{DrillStrategyId}' and ids starting with '{ReservedPrefix}' are Portal's own; no key may trade them (not: {string.Join(", ", reserved)}).", nameof(strategies));
        return strategies.Distinct().Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>Same rule as the order's strategyId field.</summary>
    private static bool IsWellFormed(string id) =>
        id.Length is > 0 and <= MaxIdLength && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');
}
