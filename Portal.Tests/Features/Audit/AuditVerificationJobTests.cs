using System.Globalization;
using System.Net;
using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Text.RegularExpressions;
using Hangfire;
using Hangfire.Dashboard;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Features.Audit;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Jobs;
using Portal.Jobs.Audit;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Audit;

public sealed class AuditVerificationJobTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync();
        await _portal.AppendAsync(50);
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task The_nightly_job_verifies_records_the_result_signs_a_checkpoint_and_sets_the_metric()
    {
        // Start-up's safe-mode transitions are appended eventually, so the head may still move while the job runs.
        var head = await _portal.HeadSeqAsync();
        await OrderRequests.ScalarAsync(_portal.AppConnectionString, "update job_successes set succeeded_at = 'epoch' where job = 'audit-verify'");
        var started = DateTimeOffset.UtcNow;
        await _portal.Get<AuditVerificationJob>().RunAsync(CancellationToken.None);

        var verified = Assert.Single(await _portal.EventsAsync(AuditVerification.VerifiedType));
        Assert.Equal("job:" + AuditVerificationJob.RecurringJobId, verified.Actor);
        // What PortalScheduledJobNotSucceeding reads, kept in Postgres.
        Assert.Equal(1, await OrderRequests.ScalarAsync(_portal.AppConnectionString,
            "select count(*) from job_successes where job = 'audit-verify' and succeeded_at >= $1", started.AddSeconds(-1)));
        Assert.True(verified.Payload.GetProperty("ok").GetBoolean());
        Assert.Equal("full", verified.Payload.GetProperty("mode").GetString());
        Assert.InRange(verified.Payload.GetProperty("toSeq").GetInt64(), head, verified.Seq - 1);
        Assert.Equal(1, AuditMetrics.VerificationOk.WithLabels("full").Value);
        // The checkpoint covers the head including the verification's own event, in the table and in the file.
        Assert.True(await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select max(seq) from audit_checkpoints") >= verified.Seq);
        var written = Regex.Matches(await File.ReadAllTextAsync(_portal.CheckpointFile), "\"seq\":([0-9]+),");
        Assert.Contains(written, line => long.Parse(line.Groups[1].Value, CultureInfo.InvariantCulture) >= verified.Seq);
    }

    [Fact]
    public async Task The_nightly_job_waits_for_a_checkpoint_in_progress_and_then_signs_its_own_event()
    {
        // Another instance's (or the timer's) checkpoint is being made: it holds the checkpoint lock.
        await using var other = new NpgsqlConnection(_portal.AppConnectionString);
        await other.OpenAsync();
        await using var signing = await other.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand($"select pg_advisory_xact_lock({AuditCheckpointer.LockKey})", other, signing))
            await hold.ExecuteNonQueryAsync();

        var job = _portal.Get<AuditVerificationJob>().RunAsync(CancellationToken.None);
        // The timer's checkpoints only try the lock; the job's forced one waits for it.
        await Poll.UntilAsync(async () => job.IsCompleted || await OrderRequests.ScalarAsync(_portal.AppConnectionString,
            "select count(*) from pg_locks where locktype = 'advisory' and not granted") > 0, "the job waits for the checkpoint lock");
        Assert.False(job.IsCompleted, "the job gave up its checkpoint because another was being made");
        await signing.CommitAsync();
        await job;

        var verified = Assert.Single(await _portal.EventsAsync(AuditVerification.VerifiedType));
        Assert.True(await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select coalesce(max(seq), 0) from audit_checkpoints") >= verified.Seq);
    }

    [Fact]
    public async Task A_failed_verification_is_recorded_and_signs_nothing()
    {
        await AuditTestKit.ExecAsync(_portal.Superuser(), """
            alter table audit_events disable trigger audit_events_append_only;
            update audit_events set actor = 'mallory' where seq = 10;
            """);
        var tampered = DateTimeOffset.UtcNow;

        await _portal.Get<AuditVerificationJob>().RunAsync(CancellationToken.None);

        var verified = Assert.Single(await _portal.EventsAsync(AuditVerification.VerifiedType));
        Assert.False(verified.Payload.GetProperty("ok").GetBoolean());
        Assert.Equal(10, verified.Payload.GetProperty("firstBadSeq").GetInt64());
        // Start-up's own control event may have been checkpointed before the edit; nothing is signed after it.
        Assert.Equal(0, await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select count(*) from audit_checkpoints where time >= $1", tampered));
    }

    [Fact]
    public async Task The_job_is_scheduled_in_hangfire_with_the_configured_cron()
    {
        string? cron = null;
        for (var i = 0; i < 100 && cron is null; i++)
        {
            using var connection = _portal.Get<JobStorage>().GetConnection();
            cron = connection.GetAllEntriesFromHash("recurring-job:" + AuditVerificationJob.RecurringJobId)?.GetValueOrDefault("Cron");
            if (cron is null) await Task.Delay(50);
        }
        Assert.Equal("0 2 * * *", cron);
    }

    [Fact]
    public async Task Verification_on_demand_needs_the_audit_scope_and_names_a_bad_mode()
    {
        var client = await _portal.ClientWithScopesAsync(Scopes.Audit);

        var response = await client.PostAsync("/api/audit/verify?mode=full", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = await response.JsonAsync();
        Assert.True(report.GetProperty("ok").GetBoolean());
        Assert.Equal(await _portal.HeadSeqAsync() - 1, report.GetProperty("toSeq").GetInt64());

        var bad = await client.PostAsync("/api/audit/verify?mode=sometimes", null);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.True((await bad.JsonAsync()).GetProperty("errors").TryGetProperty("mode", out _));
        var orders = await _portal.ClientWithScopesAsync(Scopes.Orders);
        Assert.Equal(HttpStatusCode.Forbidden, (await orders.PostAsync("/api/audit/verify", null)).StatusCode);
    }

    [Fact]
    public async Task The_dashboard_turns_away_anonymous_users_and_api_keys()
    {
        // A page: anonymous visitors are sent to sign in; an API key never passes (keys carry no roles).
        var anonymous = await _portal.CreateBrowserClient().GetAsync("/jobs");
        Assert.Equal(HttpStatusCode.Redirect, anonymous.StatusCode);
        Assert.StartsWith("/account/login", anonymous.Headers.Location!.OriginalString.Replace("http://localhost", "", StringComparison.Ordinal));
        var (key, _) = await _portal.Get<ApiKeyService>().CreateAsync("dashboard-probe", [Scopes.Audit]);
        var withKey = _portal.CreateBrowserClient();
        withKey.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        Assert.Contains((await withKey.GetAsync("/jobs")).StatusCode, new[] { HttpStatusCode.Redirect, HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden });
        var compliance = await _portal.ClientSignedInAsAsync(Roles.Compliance);
        Assert.NotEqual(HttpStatusCode.OK, (await compliance.GetAsync("/jobs")).StatusCode);
        var admin = await _portal.ClientSignedInAsAsync(Roles.Admin);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/jobs")).StatusCode);
    }

    [Fact]
    public async Task The_dashboard_is_read_only_even_for_an_admin()
    {
        var admin = await _portal.ClientSignedInAsAsync(Roles.Admin);
        await Poll.UntilAsync(async () => (await admin.GetStringAsync("/jobs/recurring")).Contains(AuditVerificationJob.RecurringJobId, StringComparison.Ordinal),
            "the recurring jobs are listed");

        var page = await admin.GetStringAsync("/jobs/recurring");

        // Hangfire renders its command buttons (trigger now, delete) only when the dashboard is not read-only.
        Assert.DoesNotContain("js-jobs-list-command", page, StringComparison.Ordinal);
        Assert.DoesNotContain("recurring/trigger", page, StringComparison.Ordinal);
        var trigger = await admin.PostAsync("/jobs/recurring/trigger", new FormUrlEncodedContent([new("jobs[]", AuditVerificationJob.RecurringJobId)]));
        Assert.NotEqual(HttpStatusCode.NoContent, trigger.StatusCode);
        Assert.Equal(0, await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select count(*) from hangfire.job"));
    }
}

/// <summary>The dashboard filter on its own, with a stand-in for the Identity cookie scheme the sign-in work adds.</summary>
public sealed class AdminOnlyDashboardFilterTests
{
    private static async Task<bool> AuthorizeAsync(ClaimsPrincipal user, string? identityRole)
    {
        var services = new ServiceCollection().AddLogging();
        var authentication = services.AddAuthentication();
        if (identityRole is not null)
        {
            services.AddSingleton(new CookieRole(identityRole));
            authentication.AddScheme<AuthenticationSchemeOptions, FakeIdentityCookie>(AdminOnlyDashboardFilter.IdentityScheme, null);
        }
        var http = new DefaultHttpContext { RequestServices = services.BuildServiceProvider(), User = user };
        var context = new AspNetCoreDashboardContext(new NoStorage(), new DashboardOptions(), http);
        return await new AdminOnlyDashboardFilter().AuthorizeAsync(context);
    }

    private static ClaimsPrincipal User(params string[] roles) =>
        new(new ClaimsIdentity(roles.Select(r => new Claim(ClaimTypes.Role, r)).Append(new Claim(ClaimTypes.Name, "u")), "Test"));

    [Fact]
    public async Task Only_an_authenticated_admin_passes()
    {
        Assert.False(await AuthorizeAsync(new ClaimsPrincipal(new ClaimsIdentity()), identityRole: null));
        Assert.False(await AuthorizeAsync(User("Trader"), identityRole: null));
        Assert.True(await AuthorizeAsync(User("Admin"), identityRole: null));
        Assert.True(await AuthorizeAsync(new ClaimsPrincipal(new ClaimsIdentity()), identityRole: "Admin"));
        Assert.False(await AuthorizeAsync(new ClaimsPrincipal(new ClaimsIdentity()), identityRole: "Trader"));
    }

    private sealed record CookieRole(string Role);

    /// <summary>The filter never touches storage.</summary>
    private sealed class NoStorage : JobStorage
    {
        public override Hangfire.Storage.IMonitoringApi GetMonitoringApi() => throw new NotSupportedException();

        public override Hangfire.Storage.IStorageConnection GetConnection() => throw new NotSupportedException();
    }

    private sealed class FakeIdentityCookie(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, CookieRole role)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync() =>
            Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(User(role.Role), Scheme.Name)));
    }
}
