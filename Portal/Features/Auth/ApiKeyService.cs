using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;
using Portal.Domain.Audit;
using Portal.Features.Audit;
using Portal.Infrastructure.Postgres;

namespace Portal.Features.Auth;

/// <summary>
/// Creates, validates and revokes API keys. Keys are 256-bit random tokens, so a plain SHA-256 is
/// enough to store them (no slow hash needed against guessing). Validations are cached for a few
/// seconds; revocation on this instance takes effect at once, on others within that time; a key past its expiry is
/// refused everywhere at once (the cached record is checked against the clock too). Creation and
/// revocation are audited in the same transaction (names, ids, scopes and strategies; never the key or its prefix).
/// </summary>
public sealed class ApiKeyService(IDbContextFactory<PortalDbContext> dbFactory, IMemoryCache cache, TimeProvider clock)
{
    public const string TokenPrefix = "pk_";
    public const string SystemActor = "system";
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);
    public const int MaxExpiryDays = 3650;

    /// <param name="strategies">The strategy ids the key may trade, or <see cref="StrategyGrants.AllOpen"/>; none when null.</param>
    /// <param name="owner">The person answerable for the key (their user name); null when no person is.</param>
    /// <param name="expiresAt">When the key stops working by itself; null: when it is revoked.</param>
    public async Task<(string Key, ApiKey Record)> CreateAsync(
        string name, IReadOnlyCollection<string> scopes, string actor = SystemActor, IReadOnlyCollection<string>? strategies = null, string? owner = null,
        DateTimeOffset? expiresAt = null, CancellationToken ct = default)
    {
        if (expiresAt <= clock.GetUtcNow()) throw new ArgumentException("The expiry must be in the future.", nameof(expiresAt));
        if (string.IsNullOrWhiteSpace(name) || name.Length > 80) throw new ArgumentException("The name must be 1 to 80 characters.", nameof(name));
        var unknown = scopes.Where(s => !Scopes.All.Contains(s)).ToList();
        if (unknown.Count > 0 || scopes.Count == 0)
            throw new ArgumentException($"Scopes must be one or more of {string.Join(", ", Scopes.All)} (unknown: {string.Join(", ", unknown)}).", nameof(scopes));

        var granted = StrategyGrants.Normalize(strategies ?? []);

        var key = TokenPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var record = new ApiKey
        {
            Id = Guid.CreateVersion7(clock.GetUtcNow()),
            Name = name,
            KeyPrefix = key[..10],
            KeyHash = Hash(key),
            Scopes = scopes.Distinct().Order(StringComparer.Ordinal).ToArray(),
            Strategies = granted,
            CreatedAt = clock.GetUtcNow(),
            Owner = string.IsNullOrWhiteSpace(owner) ? null : owner.Trim(),
            ExpiresAt = expiresAt,
        };
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        db.ApiKeys.Add(record);
        await db.SaveChangesAsync(ct);
        await AuditTrail.AppendInTransactionAsync(db, [Event(actor, "apikey.created", record, new { id = record.Id, name, scopes = record.Scopes, strategies = record.Strategies, owner = record.Owner, expiresAt = record.ExpiresAt })], ct);
        await transaction.CommitAsync(ct);
        return (key, record);
    }

    public async Task<bool> RevokeAsync(string name, string actor = SystemActor, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var record = await db.ApiKeys.AsNoTracking().SingleOrDefaultAsync(k => k.Name == name && k.RevokedAt == null, ct);
        if (record is null) return false;
        // Only a key still active is revoked: of two revocations at the same moment, the second waits here and finds it revoked.
        var revokedAt = clock.GetUtcNow();
        if (await db.ApiKeys.Where(k => k.Id == record.Id && k.RevokedAt == null).ExecuteUpdateAsync(k => k.SetProperty(x => x.RevokedAt, revokedAt), ct) == 0)
            return false;
        await AuditTrail.AppendInTransactionAsync(db, [Event(actor, "apikey.revoked", record, new { id = record.Id, name })], ct);
        await transaction.CommitAsync(ct);
        cache.Remove(CacheKey(record.KeyHash));
        return true;
    }

    /// <summary>Every key, revoked ones too, newest first (the records only: the keys themselves were never stored).</summary>
    public async Task<IReadOnlyList<ApiKey>> ListAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.ApiKeys.AsNoTracking().OrderByDescending(k => k.CreatedAt).ToListAsync(ct);
    }

    /// <summary>The expiry <paramref name="expiresInDays"/> from now, for a key that rotates by itself; 1 to <see cref="MaxExpiryDays"/>.</summary>
    public DateTimeOffset ExpiryIn(int expiresInDays) => expiresInDays is >= 1 and <= MaxExpiryDays
        ? clock.GetUtcNow().AddDays(expiresInDays)
        : throw new ArgumentException($"A key expires in 1 to {MaxExpiryDays} days.", nameof(expiresInDays));

    /// <summary>The active key matching the token, or null.</summary>
    public async Task<ApiKey?> ValidateAsync(string token, CancellationToken ct)
    {
        if (!token.StartsWith(TokenPrefix, StringComparison.Ordinal) || token.Length > 100) return null;
        var hash = Hash(token);
        var cacheKey = CacheKey(hash);
        if (!cache.TryGetValue(cacheKey, out ApiKey? record))
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            record = await db.ApiKeys.AsNoTracking().SingleOrDefaultAsync(k => k.KeyHash == hash && k.RevokedAt == null, ct);
            cache.Set(cacheKey, record, CacheFor);
        }
        return record is not null && record.IsActiveAt(clock.GetUtcNow()) ? record : null;
    }

    private AuditEventDraft Event<T>(string actor, string type, ApiKey record, T payload) =>
        AuditEventDraft.Create(clock.GetUtcNow(), actor, type, "apikey:" + record.Id, payload);

    private static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    private static string CacheKey(byte[] hash) => "apikey:" + Convert.ToHexString(hash);

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
