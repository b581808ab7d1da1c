using Portal.Features.Auth;
using Portal.Tests.Features.Audit;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Auth;

/// <summary>The series the expiry alert reads: every key not revoked that expires, until it is revoked.</summary>
public sealed class ApiKeyExpiriesTests
{
    [Fact]
    public async Task Every_key_not_revoked_that_expires_has_its_expiry_reported_until_it_is_revoked()
    {
        await using var portal = await PortalFactory.StartAsync();
        var keys = portal.Get<ApiKeyService>();
        var expiries = portal.Get<ApiKeyExpiries>();
        var now = portal.Get<TimeProvider>().GetUtcNow();
        var prefix = $"expiry-{Guid.NewGuid():N}-";
        await keys.CreateAsync(prefix + "soon", [Scopes.Orders], expiresAt: now.AddDays(3));
        await keys.CreateAsync(prefix + "lapsed", [Scopes.Orders], expiresAt: now.AddDays(1));
        await AuditTestKit.ExecAsync(portal.Superuser(), "update api_keys set expires_at = now() - interval '1 day' where name = $1", prefix + "lapsed");
        await keys.CreateAsync(prefix + "forever", [Scopes.Orders]);
        await keys.CreateAsync(prefix + "revoked", [Scopes.Orders], expiresAt: now.AddDays(2));
        await keys.RevokeAsync(prefix + "revoked");

        await expiries.RefreshAsync(CancellationToken.None);

        // An expired key stays reported (the alert holds) until it is revoked; one that never expires has no series.
        Assert.Equal([prefix + "lapsed", prefix + "soon"], Reported(prefix));
        Assert.InRange(ApiKeyExpiries.Expiry.WithLabels(prefix + "soon").Value - now.AddDays(3).ToUnixTimeMilliseconds() / 1000.0, -0.002, 0.002);
        Assert.True(ApiKeyExpiries.Expiry.WithLabels(prefix + "lapsed").Value < now.ToUnixTimeSeconds());

        await keys.RevokeAsync(prefix + "lapsed");
        await expiries.RefreshAsync(CancellationToken.None);
        Assert.Equal([prefix + "soon"], Reported(prefix));
    }

    private static List<string> Reported(string prefix) =>
        ApiKeyExpiries.Expiry.GetAllLabelValues().Select(labels => labels[0]).Where(name => name.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
}
