using System.Diagnostics;
using Portal.Features.Audit;
using Portal.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Portal.Tests.Features.Audit;

public sealed class AuditConcurrencyTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Eight_writers_in_each_of_two_hosts_on_one_database_make_one_chain_that_verifies()
    {
        const int writers = 8, eventsEach = 5_000;
        await using var first = await PortalFactory.StartAsync();
        // The second host shares the first one's database: its own group committer and connection pool.
        await using var second = await PortalFactory.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = first.AppConnectionString,
            ["ConnectionStrings:PostgresMigrations"] = first.OwnerConnectionString,
        });
        var before = await first.HeadSeqAsync();

        var watch = Stopwatch.StartNew();
        await Task.WhenAll(new[] { first, second }.SelectMany((host, h) => Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var trail = host.Get<AuditTrail>();
            for (var i = 0; i < eventsEach; i++)
                await trail.AppendAsync(AuditTestKit.Draft((((h * writers) + w) * eventsEach) + i));
        }))));
        watch.Stop();
        output.WriteLine($"{2 * writers * eventsEach} events in {watch.Elapsed.TotalSeconds:F1} s ({2 * writers * eventsEach / watch.Elapsed.TotalSeconds:F0}/s)");

        var report = await second.Get<AuditVerification>().VerifyAsync(AuditVerificationMode.Full, CancellationToken.None);
        Assert.True(report.Ok, report.Problem);
        Assert.Equal(before + (2 * writers * eventsEach), report.ToSeq);
        Assert.Equal(report.ToSeq, report.Verified);
        Assert.Equal(report.ToSeq, await OrderRequests.ScalarAsync(first.AppConnectionString, "select count(*) from audit_events"));
        // Every writer's events are there once each.
        Assert.Equal(2 * writers * eventsEach, await OrderRequests.ScalarAsync(first.AppConnectionString,
            "select count(distinct payload->>'i') from audit_events where actor = 'test:writer'"));
    }
}
