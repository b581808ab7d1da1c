using System.Collections.Concurrent;
using Npgsql;
using NpgsqlTypes;
using Portal.Features.Observability;

namespace Portal.Features.ModelDrift;

/// <summary>
/// Durable model observations. A model version's feature names are fixed by its first observation
/// (<c>model_versions</c>); each row stores its values as one float8 array in that order, written by binary COPY.
/// </summary>
public sealed class ObservationStore(NpgsqlDataSource db, TimeProvider clock)
{
    private readonly ConcurrentDictionary<(string Model, string Version), string[]> _featureNames = new();

    /// <summary>
    /// Checks every observation against its version's feature names (registering versions seen for the first time with the
    /// names of their first observation), then writes them all or, if any does not match, none (errors name the fields).
    /// </summary>
    public async Task<int> IngestAsync(IReadOnlyList<ModelObservation> observations, Dictionary<string, string[]> errors, CancellationToken ct)
    {
        var names = new Dictionary<(string, string), string[]>();
        foreach (var observation in observations)
        {
            var key = (observation.ModelId, observation.ModelVersion);
            if (!names.ContainsKey(key)) names[key] = await FeatureNamesAsync(key, observation.Features.Keys, ct);
        }
        for (var i = 0; i < observations.Count && errors.Count < ObservationParser.MaxReportedErrors; i++)
        {
            var observation = observations[i];
            var expected = names[(observation.ModelId, observation.ModelVersion)];
            if (expected.Length != observation.Features.Count || !expected.All(observation.Features.ContainsKey))
                errors[$"observations[{i}].features"] =
                    [$"must be exactly the features of {observation.ModelId} version {observation.ModelVersion}: {string.Join(", ", expected)}."];
        }
        if (errors.Count > 0) return 0;

        var receivedAt = clock.GetUtcNow();
        await using (var connection = await db.OpenConnectionAsync(ct))
        await using (var writer = await connection.BeginBinaryImportAsync(
            "copy model_observations (model_id, model_version, observed_at, received_at, prediction, confidence, features) from stdin (format binary)", ct))
        {
            foreach (var observation in observations)
            {
                var order = names[(observation.ModelId, observation.ModelVersion)];
                var values = new double[order.Length];
                for (var k = 0; k < order.Length; k++) values[k] = observation.Features[order[k]];
                await writer.StartRowAsync(ct);
                await writer.WriteAsync(observation.ModelId, NpgsqlDbType.Varchar, ct);
                await writer.WriteAsync(observation.ModelVersion, NpgsqlDbType.Varchar, ct);
                await writer.WriteAsync(observation.ObservedAt, NpgsqlDbType.TimestampTz, ct);
                await writer.WriteAsync(receivedAt, NpgsqlDbType.TimestampTz, ct);
                await writer.WriteAsync(observation.Prediction, NpgsqlDbType.Double, ct);
                await writer.WriteAsync(observation.Confidence, NpgsqlDbType.Double, ct);
                await writer.WriteAsync(values, NpgsqlDbType.Array | NpgsqlDbType.Double, ct);
            }
            await writer.CompleteAsync(ct);
        }
        foreach (var observation in observations)
            PortalMetrics.ModelPredictionConfidence.WithLabels(observation.ModelId).Observe(observation.Confidence);
        return observations.Count;
    }

    /// <summary>The version's feature names in stored order; the first caller's names (sorted) win.</summary>
    public async Task<string[]> FeatureNamesAsync((string Model, string Version) key, IEnumerable<string> namesIfNew, CancellationToken ct)
    {
        if (_featureNames.TryGetValue(key, out var cached)) return cached;
        await using var command = db.CreateCommand("""
            with inserted as (
                insert into model_versions (model_id, model_version, feature_names, first_seen_at) values ($1, $2, $3, $4)
                on conflict (model_id, model_version) do nothing
                returning feature_names)
            select feature_names from inserted
            union all select feature_names from model_versions where model_id = $1 and model_version = $2
            limit 1
            """);
        command.Parameters.AddWithValue(key.Model);
        command.Parameters.AddWithValue(key.Version);
        command.Parameters.AddWithValue(namesIfNew.Order(StringComparer.Ordinal).ToArray());
        command.Parameters.AddWithValue(clock.GetUtcNow());
        var names = await command.ExecuteScalarAsync(ct) as string[]
                    // Another first batch of this version inserted it at the same moment: this statement's snapshot predates
                    // that commit, the next statement's does not.
                    ?? await KnownFeatureNamesAsync(key.Model, key.Version, ct)
                    ?? throw new InvalidOperationException($"Model {key.Model} version {key.Version} has no feature names after registering them.");
        return _featureNames.GetOrAdd(key, names);
    }

    /// <summary>The version's feature names, or null if it never sent an observation.</summary>
    public async Task<string[]?> KnownFeatureNamesAsync(string modelId, string modelVersion, CancellationToken ct)
    {
        if (_featureNames.TryGetValue((modelId, modelVersion), out var cached)) return cached;
        await using var command = db.CreateCommand("select feature_names from model_versions where model_id = $1 and model_version = $2");
        command.Parameters.AddWithValue(modelId);
        command.Parameters.AddWithValue(modelVersion);
        return await command.ExecuteScalarAsync(ct) as string[];
    }
}
