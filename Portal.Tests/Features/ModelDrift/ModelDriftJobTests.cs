using System.Net;
using System.Net.Http.Json;
using Hangfire;
using Portal.Domain.Trading;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Features.Identity;
using Portal.Features.ModelDrift;
using Portal.Features.Observability;
using Portal.Jobs.ModelDrift;
using Portal.Tests.Features.Audit;
using Portal.Tests.Infrastructure;
using static Portal.Tests.Features.ModelDrift.ObservationBatches;

namespace Portal.Tests.Features.ModelDrift;

/// <summary>The nightly job, called directly, against real Postgres: samples posted through the API, a pinned baseline, stored results.</summary>
public sealed class ModelDriftJobTests : IAsyncLifetime
{
    private const string Model = "job-model";
    private const string Strategy = "job-strategy";
    private PortalFactory _portal = null!;
    private HttpClient _client = null!;
    private DateTimeOffset _now;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync(new Dictionary<string, string?>
        {
            [$"ModelDrift:ReduceOnlyStrategies:{Model}"] = Strategy,
            ["ModelDrift:CheckCron"] = "15 3 * * *",
        });
        _client = await _portal.ClientWithScopesAsync(Scopes.Observations);
        _now = _portal.Get<TimeProvider>().GetUtcNow();
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    private Task<long> CountAsync(string sql) => OrderRequests.ScalarAsync(_portal.AppConnectionString, sql);

    /// <summary>1,000 baseline observations two to three hours ago, pinned as first N; then 1,000 in the last hour.</summary>
    private async Task PostBaselineAndCurrentAsync(double shiftOfA)
    {
        await _client.PostAllAsync(Normals(new Random(1), Model, 1000, _now.AddHours(-3)));
        var pinned = await _portal.Get<ModelDriftService>().PinBaselineAsync(
            new BaselineRequest(Model, "v1", null, null, 1000, "first thousand"), "officer@test.local", CancellationToken.None);
        Assert.NotNull(pinned.Baseline);
        await _client.PostAllAsync(Normals(new Random(2), Model, 1000, _now.AddMinutes(-61), shiftOfA));
    }

    [Fact]
    public async Task A_shifted_feature_drifts_and_is_stored_audited_scored_and_restricts_the_strategy()
    {
        await PostBaselineAndCurrentAsync(shiftOfA: 0.5);

        await OrderRequests.ScalarAsync(_portal.AppConnectionString, "update job_successes set succeeded_at = 'epoch' where job = 'model-drift-check'");
        var started = DateTimeOffset.UtcNow;
        await _portal.Get<ModelDriftJob>().RunAsync(CancellationToken.None);

        Assert.Equal(1, await OrderRequests.ScalarAsync(_portal.AppConnectionString,
            "select count(*) from job_successes where job = 'model-drift-check' and succeeded_at >= $1", started.AddSeconds(-1)));
        var run = (await _portal.Get<ModelDriftStore>().LatestRunAsync(Model, CancellationToken.None))!;
        Assert.Equal((1000, 1000, true), (run.BaselineCount, run.CurrentCount, run.Drifted));
        Assert.Equal(1, await CountAsync("select count(*) from model_drift_runs"));
        Assert.Equal(4, await CountAsync("select count(*) from model_drift_results"));
        var a = run.Results.Single(r => r.Name == "a");
        var b = run.Results.Single(r => r.Name == "b");
        Assert.True(a.Drifted);
        Assert.InRange(a.D, 0.12, 0.28); // population D of a half-σ shift: 2Φ(0.25) − 1 ≈ 0.197
        Assert.False(b.Drifted);
        Assert.All(run.Results.Where(r => r.Kind != DriftKinds.Feature), r => Assert.False(r.Drifted));
        Assert.Equal(a, run.Results[0]); // sorted by D
        Assert.Equal(0.01 / 4, run.FeatureAlpha, 12);
        Assert.Equal(a.D, PortalMetrics.ModelDriftScore.WithLabels(Model).Value, 12);

        var audit = Assert.Single(await _portal.EventsAsync(ModelDriftService.DriftDetectedType));
        Assert.Equal("job:" + ModelDriftJob.RecurringJobId, audit.Actor);
        Assert.Equal(run.Id, audit.Payload.GetProperty("runId").GetInt64());
        Assert.Equal("a", Assert.Single(audit.Payload.GetProperty("drifted").EnumerateArray()).GetProperty("name").GetString());

        Assert.Equal(TradingMode.ReduceOnly, _portal.Get<TradingStateStore>().Get(TradingScopes.ForStrategy(Strategy)).Mode);
        Assert.Equal(1, await CountAsync($"select count(*) from trading_state where scope = 'strategy:{Strategy}' and mode = 'reduce_only'"));
        Assert.Single(await _portal.EventsAsync("trading.reduce_only"));
    }

    [Fact]
    public async Task An_unshifted_sample_does_not_drift_and_leaves_the_strategy_active()
    {
        await PostBaselineAndCurrentAsync(shiftOfA: 0);

        await _portal.Get<ModelDriftJob>().RunAsync(CancellationToken.None);

        Assert.Equal(1, await CountAsync($"select count(*) from model_drift_runs where model_id = '{Model}' and not drifted"));
        Assert.Equal(0, await CountAsync("select count(*) from model_drift_results where drifted"));
        Assert.Empty(await _portal.EventsAsync(ModelDriftService.DriftDetectedType));
        Assert.Equal(TradingMode.Active, _portal.Get<TradingStateStore>().Get(TradingScopes.ForStrategy(Strategy)).Mode);
    }

    [Fact]
    public async Task Too_few_current_observations_store_no_run()
    {
        await _client.PostAllAsync(Normals(new Random(1), Model, 1000, _now.AddHours(-3)));
        await _portal.Get<ModelDriftService>().PinBaselineAsync(new BaselineRequest(Model, "v1", null, null, 1000, "first thousand"), "o", CancellationToken.None);
        await _client.PostAllAsync(Normals(new Random(2), Model, 20, _now.AddMinutes(-61)));

        var outcome = await _portal.Get<ModelDriftService>().CheckAsync(Model, "o", CancellationToken.None);

        Assert.Equal(DriftCheckStatus.NotEnoughData, outcome.Status);
        Assert.Equal(0, await CountAsync("select count(*) from model_drift_runs"));
    }

    [Fact]
    public async Task A_RiskOfficer_pins_a_window_baseline_through_the_api_and_it_is_audited()
    {
        await _client.PostAllAsync(Normals(new Random(1), Model, 500, _now.AddHours(-3)));
        var officer = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        var onCall = await _portal.ClientSignedInAsAsync(Roles.OnCall);
        var body = new { modelVersion = "v1", reason = "quiet morning", from = _now.AddHours(-3).ToString("O"), to = _now.AddHours(-2.5).ToString("O") };

        Assert.Equal(HttpStatusCode.Forbidden, (await onCall.PostAsJsonAsync($"/api/model/{Model}/baseline", body)).StatusCode);
        var response = await officer.PostAsJsonAsync($"/api/model/{Model}/baseline", body);
        var refused = await officer.PostAsJsonAsync($"/api/model/{Model}/baseline", new { modelVersion = "v9", reason = "x", firstN = 100 });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(250, (await response.JsonAsync()).GetProperty("observationCount").GetInt32());
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.True((await refused.JsonAsync()).GetProperty("errors").TryGetProperty("modelVersion", out _));
        var pinned = Assert.Single(await _portal.EventsAsync(ModelDriftService.BaselinePinnedType));
        Assert.Equal(250, pinned.Payload.GetProperty("observationCount").GetInt32());
    }

    [Fact]
    public async Task The_job_is_scheduled_in_hangfire_with_the_configured_cron()
    {
        string? cron = null;
        await Poll.UntilAsync(() =>
        {
            using var connection = _portal.Get<JobStorage>().GetConnection();
            cron = connection.GetAllEntriesFromHash("recurring-job:" + ModelDriftJob.RecurringJobId)?.GetValueOrDefault("Cron");
            return cron is not null;
        }, "the drift job is registered");

        Assert.Equal("15 3 * * *", cron);
    }
}
