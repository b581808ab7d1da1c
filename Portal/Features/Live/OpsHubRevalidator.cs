using System.Collections.Concurrent;
using System.Data.Common;
using System.Security.Claims;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.SignalR;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Infrastructure.Postgres;

namespace Portal.Features.Live;

/// <summary>The hub connections open on this instance, with the principal each was authorized as and the read policies it satisfied.</summary>
public sealed class OpsHubConnections
{
    private readonly ConcurrentDictionary<string, (HubCallerContext Context, IReadOnlySet<string> ReadPolicies)> _connections = new();

    public void Add(HubCallerContext context, IReadOnlySet<string> readPolicies) => _connections[context.ConnectionId] = (context, readPolicies);

    public void Remove(string connectionId) => _connections.TryRemove(connectionId, out _);

    public IReadOnlyCollection<HubCallerContext> All => [.. _connections.Values.Select(c => c.Context)];

    // Asked for every event, thousands a second, and most instances have no hub client at all.
    public IReadOnlyList<string> AllowedToRead(string policy) =>
        _connections.IsEmpty ? [] : [.. _connections.Where(c => c.Value.ReadPolicies.Contains(policy)).Select(c => c.Key)];
}

/// <summary>
/// A hub connection outlives the check made when it opened, so every <see cref="LiveOptions.RevalidationInterval"/> this
/// instance re-reads, in two queries, the keys and people behind its connections, and closes any whose key was revoked,
/// whose person is gone, locked, changed password (security stamp) or holds other roles than when it connected (a
/// demoted person reconnects with only what the new roles may read). If Postgres cannot be read, connections stay as
/// they are until it can: the events are reads, and cutting every wall screen off during an outage helps nobody.
/// </summary>
public sealed partial class OpsHubRevalidator(
    OpsHubConnections connections, IDbContextFactory<PortalDbContext> portalDb, IServiceScopeFactory scopes, IOptions<IdentityOptions> identity,
    IOptions<LiveOptions> options, TimeProvider clock, ILogger<OpsHubRevalidator> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RevalidationInterval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await RevalidateAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is DbException or TimeoutException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
            {
                LogCheckFailed(logger, ex.GetBaseException().Message);
            }
        }
    }

    public async Task RevalidateAsync(CancellationToken ct)
    {
        var open = connections.All;
        if (open.Count == 0) return;
        var keyConnections = new List<(HubCallerContext Context, Guid KeyId)>();
        var personConnections = new List<(HubCallerContext Context, ClaimsIdentity Identity, string UserId)>();
        foreach (var context in open)
        {
            var id = context.User?.Identity as ClaimsIdentity;
            var subject = id?.FindFirst(ClaimTypes.NameIdentifier)?.Value;
            if (id?.AuthenticationType == ApiKeyAuthenticationHandler.SchemeName && subject is not null
                && subject.StartsWith("apikey:", StringComparison.Ordinal) && Guid.TryParse(subject.AsSpan("apikey:".Length), out var keyId))
                keyConnections.Add((context, keyId));
            else if (id?.AuthenticationType == IdentityConstants.ApplicationScheme && subject is not null)
                personConnections.Add((context, id, subject));
            else
                Close(context, "no recognisable key or person");
        }

        if (keyConnections.Count > 0)
        {
            var ids = keyConnections.Select(c => c.KeyId).Distinct().ToList();
            await using var db = await portalDb.CreateDbContextAsync(ct);
            var now = clock.GetUtcNow();
            var active = (await db.ApiKeys.AsNoTracking().Where(k => ids.Contains(k.Id) && k.RevokedAt == null && (k.ExpiresAt == null || k.ExpiresAt > now))
                .Select(k => k.Id).ToListAsync(ct)).ToHashSet();
            foreach (var (context, keyId) in keyConnections)
                if (!active.Contains(keyId)) Close(context, "API key revoked or expired");
        }

        if (personConnections.Count > 0)
        {
            var ids = personConnections.Select(c => c.UserId).Distinct().ToList();
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<PortalIdentityDbContext>();
            var users = await db.Users.AsNoTracking().Where(u => ids.Contains(u.Id))
                .Select(u => new { u.Id, u.SecurityStamp, u.LockoutEnd }).ToDictionaryAsync(u => u.Id, ct);
            var roles = (await (from userRole in db.UserRoles
                               join role in db.Roles on userRole.RoleId equals role.Id
                               where ids.Contains(userRole.UserId)
                               select new { userRole.UserId, role.Name }).ToListAsync(ct))
                .ToLookup(r => r.UserId, r => r.Name);
            var now = clock.GetUtcNow();
            var stampClaim = identity.Value.ClaimsIdentity.SecurityStampClaimType;
            foreach (var (context, claims, userId) in personConnections)
            {
                if (!users.TryGetValue(userId, out var user)) Close(context, "user deleted");
                else if (user.LockoutEnd > now) Close(context, "user locked");
                else if (claims.FindFirst(stampClaim)?.Value != user.SecurityStamp) Close(context, "security stamp changed");
                else if (!claims.FindAll(claims.RoleClaimType).Select(c => c.Value).ToHashSet().SetEquals(roles[userId].OfType<string>()))
                    Close(context, "roles changed");
            }
        }
    }

    private void Close(HubCallerContext context, string why)
    {
        LogClosed(logger, context.User?.Identity?.Name, why);
        connections.Remove(context.ConnectionId);
        context.Abort();
    }

    [LoggerMessage(EventId = 4120, Level = LogLevel.Information, Message = "Closed the live-events connection of {Caller}: {Why}")]
    private static partial void LogClosed(ILogger logger, string? caller, string why);

    [LoggerMessage(EventId = 4121, Level = LogLevel.Warning, Message = "Live-events connections not re-checked this time: {Error}")]
    private static partial void LogCheckFailed(ILogger logger, string error);
}
