using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Portal.Features.Auth;
using Portal.Features.ModelDrift;
using Portal.Tests.Infrastructure;
using static Portal.Tests.Features.ModelDrift.ObservationBatches;

namespace Portal.Tests.Features.ModelDrift;

public sealed class ModelObservationsApiTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;
    private HttpClient _client = null!;
    private DateTimeOffset _now;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync(new Dictionary<string, string?>
        {
            ["ModelDrift:MaxBatchSize"] = "5",
            ["ModelDrift:MaxFeatures"] = "3",
        });
        _client = await _portal.ClientWithScopesAsync(Scopes.Observations);
        _now = _portal.Get<TimeProvider>().GetUtcNow();
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    private Task<long> CountAsync(string sql) => OrderRequests.ScalarAsync(_portal.AppConnectionString, sql);

    private static Dictionary<string, double> Features(params (string Name, double Value)[] features) => features.ToDictionary(f => f.Name, f => f.Value);

    private async Task<JsonElement> PostBadAsync(string body)
    {
        var response = await _client.PostAsync("/api/model/observations", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return (await response.JsonAsync()).GetProperty("errors");
    }

    [Fact]
    public async Task A_valid_batch_is_stored_with_the_versions_feature_order_and_counted_in_the_confidence_histogram()
    {
        var before = Portal.Features.Observability.PortalMetrics.ModelPredictionConfidence.WithLabels("m-ok").Count;
        var batch = Batch(Enumerable.Range(0, 3).Select(i =>
            Observation("m-ok", _now.AddMinutes(-i), Features(("zeta", i), ("alpha", 10 + i)), prediction: i, confidence: 0.9)));

        var response = await _client.PostAsJsonAsync("/api/model/observations", batch);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, (await response.JsonAsync()).GetProperty("accepted").GetInt32());
        Assert.Equal(3, await CountAsync("select count(*) from model_observations where model_id = 'm-ok' and model_version = 'v1'"));
        // Names are stored once per version, sorted; each row's array follows them.
        Assert.Equal(1, await CountAsync("select count(*) from model_versions where model_id = 'm-ok' and feature_names = array['alpha', 'zeta']"));
        Assert.Equal(2, await CountAsync("select count(*) from model_observations where model_id = 'm-ok' and features[1] >= 11 and features[2] = features[1] - 10"));
        Assert.Equal(before + 3, Portal.Features.Observability.PortalMetrics.ModelPredictionConfidence.WithLabels("m-ok").Count);
    }

    /// <summary>
    /// Two first batches of a new version at the same moment (here the other one is another instance's, committing while
    /// this one waits on it): this instance's statement could not see the other's row, cached "no names" and answered 500 to
    /// every batch of that version from then on.
    /// </summary>
    [Fact]
    public async Task A_first_batch_of_a_version_racing_another_instances_first_batch_uses_the_names_that_won()
    {
        await using var other = new Npgsql.NpgsqlConnection(_portal.AppConnectionString);
        await other.OpenAsync();
        var theirs = await other.BeginTransactionAsync();
        await using (var insert = new Npgsql.NpgsqlCommand(
            "insert into model_versions (model_id, model_version, feature_names, first_seen_at) values ('m-race', 'v1', array['alpha', 'zeta'], now())", other, theirs))
            await insert.ExecuteNonQueryAsync();
        var batch = Batch([Observation("m-race", _now, Features(("zeta", 1), ("alpha", 2)))]);

        var first = _client.PostAsJsonAsync("/api/model/observations", batch);
        await Poll.UntilAsync(async () => await CountAsync(
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like '%insert into model_versions%' and pid <> pg_backend_pid()") == 1,
            "this instance's first batch waits on the other's");
        await theirs.CommitAsync();

        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _client.PostAsJsonAsync("/api/model/observations", batch)).StatusCode);
        Assert.Equal(2, await CountAsync("select count(*) from model_observations where model_id = 'm-race' and features = array[2, 1]::float8[]"));
    }

    [Fact]
    public async Task Non_finite_numbers_are_refused_naming_the_field_and_nothing_is_stored()
    {
        var at = _now.ToString("O");
        var errors = await PostBadAsync($$"""
            {"observations": [
              {"modelId": "m-bad", "modelVersion": "v1", "timestamp": "{{at}}", "features": {"a": 1}, "prediction": 1e999, "confidence": 0.5},
              {"modelId": "m-bad", "modelVersion": "v1", "timestamp": "{{at}}", "features": {"a": "NaN"}, "prediction": 1, "confidence": 0.5},
              {"modelId": "m-bad", "modelVersion": "v1", "timestamp": "{{at}}", "features": {"a": 1}, "prediction": 1, "confidence": 1.5}
            ]}
            """);

        Assert.True(errors.TryGetProperty("observations[0].prediction", out _));
        Assert.True(errors.TryGetProperty("observations[1].features.a", out _));
        Assert.Contains("between 0 and 1", errors.GetProperty("observations[2].confidence")[0].GetString());
        Assert.Equal(0, await CountAsync("select count(*) from model_observations"));
    }

    [Fact]
    public async Task Missing_fields_are_each_named()
    {
        var errors = await PostBadAsync("""{"observations": [{"modelVersion": "v1", "features": {}, "confidence": 0.5, "extra": 1}]}""");

        Assert.Equal("is required.", errors.GetProperty("observations[0].modelId")[0].GetString());
        Assert.Equal("is required.", errors.GetProperty("observations[0].timestamp")[0].GetString());
        Assert.Equal("is required.", errors.GetProperty("observations[0].prediction")[0].GetString());
        Assert.True(errors.TryGetProperty("observations[0].features", out _));
        Assert.True(errors.TryGetProperty("observations[0].extra", out _));
        Assert.True((await PostBadAsync("""{"batch": []}""")).TryGetProperty("observations", out _));
    }

    [Fact]
    public async Task Too_many_features_an_oversize_batch_and_a_future_timestamp_are_refused()
    {
        var tooMany = Batch([Observation("m-big", _now, Features(("a", 1), ("b", 2), ("c", 3), ("d", 4)))]);
        var oversize = Batch(Enumerable.Range(0, 6).Select(_ => Observation("m-big", _now, Features(("a", 1)))));
        var future = Batch([Observation("m-big", _now.AddHours(1), Features(("a", 1)))]);

        Assert.Contains("at most 3 features", (await PostBadAsync(tooMany.ToJsonString())).GetProperty("observations[0].features")[0].GetString());
        Assert.Contains("at most 5 observations", (await PostBadAsync(oversize.ToJsonString())).GetProperty("observations")[0].GetString());
        Assert.Contains("future", (await PostBadAsync(future.ToJsonString())).GetProperty("observations[0].timestamp")[0].GetString());
        Assert.Equal(0, await CountAsync("select count(*) from model_observations"));
    }

    [Fact]
    public async Task An_observation_whose_features_differ_from_its_versions_is_refused_with_the_expected_names()
    {
        await _client.PostAllAsync([Observation("m-fixed", _now, Features(("a", 1), ("b", 2)))]);

        var errors = await PostBadAsync(Batch([
            Observation("m-fixed", _now, Features(("a", 1), ("b", 2))),
            Observation("m-fixed", _now, Features(("a", 1), ("c", 2))),
        ]).ToJsonString());

        Assert.Contains("a, b", errors.GetProperty("observations[1].features")[0].GetString());
        Assert.False(errors.TryGetProperty("observations[0].features", out _));
        Assert.Equal(1, await CountAsync("select count(*) from model_observations where model_id = 'm-fixed'"));
    }

    [Fact]
    public async Task Only_keys_with_the_observations_scope_may_post()
    {
        var body = Batch([Observation("m-scope", _now, Features(("a", 1)))]);
        var ordersKey = await _portal.ClientWithScopesAsync(Scopes.Orders);

        Assert.Equal(HttpStatusCode.Forbidden, (await ordersKey.PostAsJsonAsync("/api/model/observations", body)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _portal.CreateClient().PostAsJsonAsync("/api/model/observations", body)).StatusCode);
        Assert.Equal(0, await CountAsync("select count(*) from model_observations"));
    }

    [Fact]
    public async Task Invalid_configuration_is_reported_by_key()
    {
        var result = new ModelDriftOptionsValidator().Validate(null, new ModelDriftOptions { CheckCron = "every night", Alpha = 0, MaxBatchSize = 0 });

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.StartsWith("ModelDrift:CheckCron 'every night'", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.StartsWith("ModelDrift:Alpha", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.StartsWith("ModelDrift:MaxBatchSize", StringComparison.Ordinal));
    }
}
