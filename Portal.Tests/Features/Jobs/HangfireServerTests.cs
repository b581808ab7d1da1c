using Portal.Features.Audit;
using Portal.Jobs.Audit;
using Portal.Tests.Features.Audit;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Jobs;

/// <summary>
/// Hangfire's own server in a real Portal, on its Postgres storage: a recurring job runs on its schedule with nobody calling it.
/// Every other test runs without the server and calls jobs directly.
/// </summary>
public sealed class HangfireServerTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;

    public async Task InitializeAsync() => _portal = await PortalFactory.StartAsync(new Dictionary<string, string?>
    {
        ["Hangfire:ServerEnabled"] = "true",
        ["Hangfire:WorkerCount"] = "1",
        ["Hangfire:SchedulePollingInterval"] = "00:00:01",
        // Every two seconds (Hangfire reads six fields as seconds first).
        ["Audit:VerifyCron"] = "*/2 * * * * *",
    });

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task The_server_runs_the_audit_verification_on_its_schedule_and_records_it_as_succeeded()
    {
        await Poll.UntilAsync(async () => (await _portal.EventsAsync(AuditVerification.VerifiedType))
                .Any(e => e.Actor == "job:" + AuditVerificationJob.RecurringJobId && e.Payload.GetProperty("ok").GetBoolean()),
            "a scheduled verification recorded by the job", TimeSpan.FromSeconds(90));

        // Hangfire's own record of it: triggered by the recurring job, performed by a worker, succeeded.
        await Poll.UntilAsync(async () => await OrderRequests.ScalarAsync(_portal.AppConnectionString, """
                select count(*) from hangfire.job j
                join hangfire.jobparameter p on p.jobid = j.id and p.name = 'RecurringJobId' and p.value = '"audit-verify"'
                where j.statename = 'Succeeded'
                """) >= 1,
            "Hangfire records a succeeded run of the recurring job", TimeSpan.FromSeconds(30));
    }
}
