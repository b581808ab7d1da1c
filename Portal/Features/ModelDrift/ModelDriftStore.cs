using Npgsql;
using Portal.Components.Shared;
using Portal.Domain.Statistics;

namespace Portal.Features.ModelDrift;

/// <summary>A pinned baseline: the observations of one model version in a window, or its first N, up to <c>MaxObservationId</c>.</summary>
public sealed record BaselineView(
    long Id, string ModelId, string ModelVersion, DateTimeOffset? WindowFrom, DateTimeOffset? WindowTo, int? FirstN,
    long MaxObservationId, int ObservationCount, DateTimeOffset LastObservedAt, string Reason, string PinnedBy, DateTimeOffset PinnedAt)
{
    public string Describe() => FirstN is { } n
        ? $"first {n:N0} observations of version {ModelVersion}"
        : $"version {ModelVersion} from {Formats.Utc(WindowFrom)} to {Formats.Utc(WindowTo)}";
}

/// <summary>How one distribution compared. <paramref name="Kind"/>: <c>feature</c>, <c>prediction</c> or <c>confidence</c>.</summary>
public sealed record DriftResultView(
    string Kind, string Name, double D, double PValue, string PMethod, double Psi, bool Significant, bool Material, bool Drifted,
    double[] EcdfX, double[] EcdfBaseline, double[] EcdfCurrent)
{
    public string Label => Kind == DriftKinds.Feature ? Name : Kind;
}

public sealed record DriftRunView(
    long Id, string ModelId, string ModelVersion, long BaselineId, DateTimeOffset StartedAt, DateTimeOffset FinishedAt,
    DateTimeOffset CurrentFrom, DateTimeOffset CurrentTo, int BaselineCount, int CurrentCount, double FeatureAlpha, double MaxD, bool Drifted,
    string TriggeredBy, IReadOnlyList<DriftResultView> Results);

/// <summary>One point of a distribution's nightly history.</summary>
public sealed record DriftHistoryPoint(long RunId, DateTimeOffset At, double D, bool Drifted);

public static class DriftKinds
{
    public const string Feature = "feature";
    public const string Prediction = "prediction";
    public const string Confidence = "confidence";
}

/// <summary>The two samples of a check, one column per feature (in the version's order), then prediction and confidence.</summary>
public sealed record DriftSamples(string[] FeatureNames, double[][] Columns, DateTimeOffset? LastObservedAt, long MaxObservationId)
{
    public int Count => Columns[0].Length;
}

/// <summary>Baselines, samples and drift results in Postgres.</summary>
public sealed class ModelDriftStore(NpgsqlDataSource db)
{
    private const string BaselineColumns =
        "id, model_id, model_version, window_from, window_to, first_n, max_observation_id, observation_count, last_observed_at, reason, pinned_by, pinned_at";

    /// <summary>
    /// Reads a version's observations with <paramref name="from"/> ≤ observed_at &lt; <paramref name="to"/> and id ≤ <paramref name="maxId"/>,
    /// oldest first, at most <paramref name="limit"/>; columns are the features in <paramref name="featureNames"/> order, prediction, confidence.
    /// </summary>
    public async Task<DriftSamples> ReadSamplesAsync(string modelId, string modelVersion, string[] featureNames, DateTimeOffset? from, DateTimeOffset? to,
        long maxId, int limit, CancellationToken ct)
    {
        await using var command = db.CreateCommand("""
            select features, prediction, confidence, observed_at, id from model_observations
            where model_id = $1 and model_version = $2 and observed_at >= $3 and observed_at < $4 and id <= $5
            order by observed_at, id limit $6
            """);
        command.Parameters.AddWithValue(modelId);
        command.Parameters.AddWithValue(modelVersion);
        command.Parameters.AddWithValue(from ?? DateTimeOffset.UnixEpoch);
        command.Parameters.AddWithValue(to ?? DateTimeOffset.MaxValue.AddDays(-1));
        command.Parameters.AddWithValue(maxId);
        command.Parameters.AddWithValue(limit);
        var columns = Enumerable.Range(0, featureNames.Length + 2).Select(_ => new List<double>()).ToArray();
        DateTimeOffset? last = null;
        long lastId = 0;
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var features = reader.GetFieldValue<double[]>(0);
                for (var k = 0; k < featureNames.Length; k++) columns[k].Add(features[k]);
                columns[^2].Add(reader.GetDouble(1));
                columns[^1].Add(reader.GetDouble(2));
                last = reader.GetFieldValue<DateTimeOffset>(3);
                lastId = Math.Max(lastId, reader.GetInt64(4));
            }
        }
        return new DriftSamples(featureNames, columns.Select(c => c.ToArray()).ToArray(), last, lastId);
    }

    public async Task<long> MaxObservationIdAsync(CancellationToken ct)
    {
        await using var command = db.CreateCommand("select coalesce(max(id), 0) from model_observations");
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    public async Task<BaselineView> InsertBaselineAsync(BaselineView draft, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"""
            insert into model_baselines (model_id, model_version, window_from, window_to, first_n, max_observation_id, observation_count,
                last_observed_at, reason, pinned_by, pinned_at)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id
            """);
        command.Parameters.AddWithValue(draft.ModelId);
        command.Parameters.AddWithValue(draft.ModelVersion);
        command.Parameters.AddWithValue((object?)draft.WindowFrom ?? DBNull.Value);
        command.Parameters.AddWithValue((object?)draft.WindowTo ?? DBNull.Value);
        command.Parameters.AddWithValue((object?)draft.FirstN ?? DBNull.Value);
        command.Parameters.AddWithValue(draft.MaxObservationId);
        command.Parameters.AddWithValue(draft.ObservationCount);
        command.Parameters.AddWithValue(draft.LastObservedAt);
        command.Parameters.AddWithValue(draft.Reason);
        command.Parameters.AddWithValue(draft.PinnedBy);
        command.Parameters.AddWithValue(draft.PinnedAt);
        return draft with { Id = (long)(await command.ExecuteScalarAsync(ct))! };
    }

    /// <summary>The model's baseline in force: the newest pinned.</summary>
    public async Task<BaselineView?> BaselineAsync(string modelId, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"select {BaselineColumns} from model_baselines where model_id = $1 order by id desc limit 1");
        command.Parameters.AddWithValue(modelId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadBaseline(reader) : null;
    }

    /// <summary>Every model with a baseline, by id.</summary>
    public async Task<IReadOnlyList<string>> ModelsWithBaselineAsync(CancellationToken ct)
    {
        await using var command = db.CreateCommand("select distinct model_id from model_baselines order by model_id");
        return await ReadStringsAsync(command, ct);
    }

    /// <summary>Every model that ever sent an observation, with its versions (oldest first).</summary>
    public async Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> ModelVersionsAsync(CancellationToken ct)
    {
        await using var command = db.CreateCommand("select model_id, model_version from model_versions order by model_id, first_seen_at, model_version");
        await using var reader = await command.ExecuteReaderAsync(ct);
        var result = new SortedDictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        while (await reader.ReadAsync(ct))
        {
            var model = reader.GetString(0);
            if (!result.TryGetValue(model, out var versions)) result[model] = versions = new List<string>();
            ((List<string>)versions).Add(reader.GetString(1));
        }
        return result;
    }

    public async Task<DriftRunView> InsertRunAsync(DriftRunView run, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var insertRun = new NpgsqlCommand("""
            insert into model_drift_runs (model_id, model_version, baseline_id, started_at, finished_at, current_from, current_to,
                baseline_count, current_count, feature_alpha, max_d, drifted, triggered_by)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) returning id
            """, connection, transaction);
        foreach (var value in new object[] { run.ModelId, run.ModelVersion, run.BaselineId, run.StartedAt, run.FinishedAt, run.CurrentFrom, run.CurrentTo,
                     run.BaselineCount, run.CurrentCount, run.FeatureAlpha, run.MaxD, run.Drifted, run.TriggeredBy })
            insertRun.Parameters.Add(new NpgsqlParameter { Value = value });
        var id = (long)(await insertRun.ExecuteScalarAsync(ct))!;

        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var r in run.Results)
        {
            var command = new NpgsqlBatchCommand("""
                insert into model_drift_results (run_id, kind, name, d, p_value, p_method, psi, significant, material, drifted, ecdf_x, ecdf_baseline, ecdf_current)
                values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                """);
            foreach (var value in new object[] { id, r.Kind, r.Name, r.D, r.PValue, r.PMethod, r.Psi, r.Significant, r.Material, r.Drifted, r.EcdfX, r.EcdfBaseline, r.EcdfCurrent })
                command.Parameters.Add(new NpgsqlParameter { Value = value });
            batch.BatchCommands.Add(command);
        }
        if (batch.BatchCommands.Count > 0) await batch.ExecuteNonQueryAsync(ct);
        await transaction.CommitAsync(ct);
        return run with { Id = id };
    }

    /// <summary>The model's newest run with its results, D descending; null before the first.</summary>
    public async Task<DriftRunView?> LatestRunAsync(string modelId, CancellationToken ct)
    {
        await using var command = db.CreateCommand("""
            select id, model_id, model_version, baseline_id, started_at, finished_at, current_from, current_to, baseline_count, current_count,
                feature_alpha, max_d, drifted, triggered_by
            from model_drift_runs where model_id = $1 order by id desc limit 1
            """);
        command.Parameters.AddWithValue(modelId);
        DriftRunView run;
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct)) return null;
            run = new DriftRunView(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.GetFieldValue<DateTimeOffset>(5), reader.GetFieldValue<DateTimeOffset>(6),
                reader.GetFieldValue<DateTimeOffset>(7), reader.GetInt32(8), reader.GetInt32(9), reader.GetDouble(10), reader.GetDouble(11),
                reader.GetBoolean(12), reader.GetString(13), []);
        }
        await using var results = db.CreateCommand("""
            select kind, name, d, p_value, p_method, psi, significant, material, drifted, ecdf_x, ecdf_baseline, ecdf_current
            from model_drift_results where run_id = $1 order by d desc, kind, name
            """);
        results.Parameters.AddWithValue(run.Id);
        var rows = new List<DriftResultView>();
        await using (var reader = await results.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
                rows.Add(new DriftResultView(reader.GetString(0), reader.GetString(1), reader.GetDouble(2), reader.GetDouble(3), reader.GetString(4),
                    reader.GetDouble(5), reader.GetBoolean(6), reader.GetBoolean(7), reader.GetBoolean(8),
                    reader.GetFieldValue<double[]>(9), reader.GetFieldValue<double[]>(10), reader.GetFieldValue<double[]>(11)));
        }
        return run with { Results = rows };
    }

    /// <summary>D of one distribution in the model's newest <paramref name="take"/> runs (finished since <paramref name="since"/>, if given), oldest first.</summary>
    public async Task<IReadOnlyList<DriftHistoryPoint>> HistoryAsync(string modelId, string kind, string name, int take, CancellationToken ct, DateTimeOffset? since = null)
    {
        await using var command = db.CreateCommand("""
            select r.id, r.finished_at, x.d, x.drifted from model_drift_runs r
            join model_drift_results x on x.run_id = r.id and x.kind = $2 and x.name = $3
            where r.model_id = $1 and ($5::timestamptz is null or r.finished_at >= $5) order by r.id desc limit $4
            """);
        command.Parameters.AddWithValue(modelId);
        command.Parameters.AddWithValue(kind);
        command.Parameters.AddWithValue(name);
        command.Parameters.AddWithValue(take);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset?> { TypedValue = since, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        await using var reader = await command.ExecuteReaderAsync(ct);
        var points = new List<DriftHistoryPoint>();
        while (await reader.ReadAsync(ct))
            points.Add(new DriftHistoryPoint(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetDouble(2), reader.GetBoolean(3)));
        points.Reverse();
        return points;
    }

    private static BaselineView ReadBaseline(NpgsqlDataReader reader) => new(
        reader.GetInt64(0), reader.GetString(1), reader.GetString(2),
        reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3),
        reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4),
        reader.IsDBNull(5) ? null : reader.GetInt32(5),
        reader.GetInt64(6), reader.GetInt32(7), reader.GetFieldValue<DateTimeOffset>(8), reader.GetString(9), reader.GetString(10),
        reader.GetFieldValue<DateTimeOffset>(11));

    private static async Task<IReadOnlyList<string>> ReadStringsAsync(NpgsqlCommand command, CancellationToken ct)
    {
        await using var reader = await command.ExecuteReaderAsync(ct);
        var result = new List<string>();
        while (await reader.ReadAsync(ct)) result.Add(reader.GetString(0));
        return result;
    }

    /// <summary>The stored row of one measured column.</summary>
    public static DriftResultView Result(string kind, string name, FeatureDriftVerdict verdict, EcdfOverlay overlay) => new(
        kind, name, verdict.Ks.D, verdict.Ks.PValue, verdict.Ks.Method == KsMethod.Exact ? "exact" : "asymptotic", verdict.Psi,
        verdict.Significant, verdict.Material, verdict.Drifted, overlay.X, overlay.Baseline, overlay.Current);
}
