using Npgsql;
using Portal.Features.Auth;
using Portal.Tests.Features.Audit;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Auth;

public sealed class ApiKeyRevocationTests
{
    /// <summary>
    /// Two revocations of one key at the same moment (two Admins, or a drill's end and an Admin, on two instances): both
    /// read it active, and both used to succeed, two apikey.revoked events and the revocation time overwritten by the later.
    /// </summary>
    [Fact]
    public async Task Two_revocations_of_one_key_at_the_same_moment_revoke_it_once()
    {
        await using var portal = await PortalFactory.StartAsync();
        var keys = portal.Get<ApiKeyService>();
        var name = $"revoked-twice-{Guid.NewGuid():N}";
        var (_, record) = await keys.CreateAsync(name, [Scopes.Orders]);
        // Holding the row makes both revocations read it active and then wait at their update, as at the same microsecond.
        await using var holder = new NpgsqlConnection(portal.AppConnectionString);
        await holder.OpenAsync();
        var hold = await holder.BeginTransactionAsync();
        await using (var lockIt = new NpgsqlCommand("select 1 from api_keys where id = $1 for update", holder, hold) { Parameters = { new() { Value = record.Id } } })
            await lockIt.ExecuteNonQueryAsync();

        var first = keys.RevokeAsync(name, "admin-a@test.local");
        var second = keys.RevokeAsync(name, "admin-b@test.local");
        await Poll.UntilAsync(async () => await OrderRequests.ScalarAsync(portal.AppConnectionString,
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like 'UPDATE%api_keys%'") == 2, "both revocations wait at their update");
        await hold.RollbackAsync();

        Assert.Equal([false, true], (await Task.WhenAll(first, second)).Order());
        Assert.Single(await portal.EventsAsync("apikey.revoked"), e => e.Payload.GetProperty("id").GetString() == record.Id.ToString());
    }
}
