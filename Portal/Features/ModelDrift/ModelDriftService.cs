using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Portal.Domain.Audit;
using Portal.Domain.Statistics;
using Portal.Features.Audit;
using Portal.Features.Halt;
using Portal.Features.Live;
using Portal.Features.Observability;
using Portal.Jobs.ModelDrift;

namespace Portal.Features.ModelDrift;

/// <summary>What to pin: a window [<paramref name="From"/>, <paramref name="To"/>) or the first <paramref name="FirstN"/> observations of a version.</summary>
public sealed record BaselineRequest(string ModelId, string ModelVersion, DateTimeOffset? From, DateTimeOffset? To, int? FirstN, string Reason);

public sealed record PinOutcome(BaselineView? Baseline, IReadOnlyDictionary<string, string[]> Errors);

public enum DriftCheckStatus { Completed, NoBaseline, NotEnoughData }

public sealed record DriftCheckOutcome(DriftCheckStatus Status, string Detail, DriftRunView? Run = null);

/// <summary>Summary of a finished check, sent to live views.</summary>
public sealed record DriftRunEvent(string ModelId, long RunId, bool Drifted, double MaxD, IReadOnlyList<string> DriftedNames);

/// <summary>
/// Pins baselines and runs drift checks: baseline against the model version's observations since the baseline (at most
/// <see cref="ModelDriftOptions.CurrentWindow"/> back), every feature plus prediction and confidence, Bonferroni across all of them.
/// A drift is audited, alerted (portal push, Redis, webhook), scored in <c>model_drift_score</c>, and optionally moves the model's
/// strategy to reduce-only.
/// </summary>
public sealed class ModelDriftService(
    ModelDriftStore store, ObservationStore observations, AuditTrail audit, AlertPublisher alerts, OpsEventBus live, KillSwitch killSwitch,
    JobSuccesses jobSuccesses, IOptions<ModelDriftOptions> options, TimeProvider clock, ILogger<ModelDriftService> logger) : IModelDriftRunner
{
    public const string BaselinePinnedType = "model.baseline_pinned";
    public const string DriftDetectedType = "model.drift_detected";

    public async Task<PinOutcome> PinBaselineAsync(BaselineRequest request, string actor, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var o = options.Value;
        if (string.IsNullOrWhiteSpace(request.Reason)) errors["reason"] = ["is required."];
        if (request.FirstN is not null && (request.From is not null || request.To is not null))
            errors["firstN"] = ["give either firstN or a window (from, to), not both."];
        else if (request.FirstN is { } n && (n < o.MinObservations || n > o.MaxObservations))
            errors["firstN"] = [$"must be between {o.MinObservations} and {o.MaxObservations}."];
        else if (request.FirstN is null && (request.From is null || request.To is null))
            errors["from"] = ["give firstN, or both from and to."];
        else if (request.From >= request.To)
            errors["to"] = ["must be after from."];
        var names = await observations.KnownFeatureNamesAsync(request.ModelId, request.ModelVersion, ct);
        if (names is null) errors["modelVersion"] = [$"{request.ModelId} version {request.ModelVersion} has sent no observations."];
        if (errors.Count > 0) return new PinOutcome(null, errors);

        // Frozen at the newest row now: a late observation with an old timestamp never changes a pinned baseline.
        var maxId = await store.MaxObservationIdAsync(ct);
        var samples = await store.ReadSamplesAsync(request.ModelId, request.ModelVersion, names!, request.From, request.To, maxId,
            request.FirstN ?? o.MaxObservations, ct);
        if (samples.Count < (request.FirstN ?? o.MinObservations))
        {
            errors[request.FirstN is null ? "from" : "firstN"] =
                [$"the chosen observations number {samples.Count}; at least {request.FirstN ?? o.MinObservations} are needed."];
            return new PinOutcome(null, errors);
        }
        var baseline = await store.InsertBaselineAsync(new BaselineView(0, request.ModelId, request.ModelVersion, request.From, request.To, request.FirstN,
            samples.MaxObservationId, samples.Count, samples.LastObservedAt!.Value, request.Reason.Trim(), actor, clock.GetUtcNow()), ct);
        await audit.AppendAsync(AuditEventDraft.Create(baseline.PinnedAt, actor, BaselinePinnedType, "model:" + baseline.ModelId, new
        {
            baselineId = baseline.Id, baseline.ModelVersion, baseline.WindowFrom, baseline.WindowTo, baseline.FirstN, baseline.ObservationCount,
            baseline.MaxObservationId, reason = baseline.Reason,
        }, JsonSerializerOptions.Web));
        live.Publish(OpsEventTypes.ModelDrift, new DriftRunEvent(baseline.ModelId, 0, false, 0, []));
        logger.LogInformation("Baseline {Id} pinned for {Model}: {Baseline} ({Count} observations) by {Actor}",
            baseline.Id, baseline.ModelId, baseline.Describe(), baseline.ObservationCount, actor);
        return new PinOutcome(baseline, errors);
    }

    /// <summary>The nightly job: every model with a baseline, one after another.</summary>
    public async Task RunScheduledChecksAsync(CancellationToken ct)
    {
        foreach (var model in await store.ModelsWithBaselineAsync(ct))
        {
            var outcome = await CheckAsync(model, "job:" + ModelDriftJob.RecurringJobId, ct);
            if (outcome.Status != DriftCheckStatus.Completed) logger.LogWarning("Drift check of {Model} skipped: {Detail}", model, outcome.Detail);
        }
        await jobSuccesses.RecordAsync(ModelDriftJob.RecurringJobId, ct);
    }

    public async Task<DriftCheckOutcome> CheckAsync(string modelId, string actor, CancellationToken ct)
    {
        var o = options.Value;
        var baseline = await store.BaselineAsync(modelId, ct);
        if (baseline is null) return new(DriftCheckStatus.NoBaseline, $"{modelId} has no baseline: pin one first.");
        var started = clock.GetUtcNow();
        var names = (await observations.KnownFeatureNamesAsync(modelId, baseline.ModelVersion, ct))!;
        var reference = await store.ReadSamplesAsync(modelId, baseline.ModelVersion, names, baseline.WindowFrom, baseline.WindowTo,
            baseline.MaxObservationId, baseline.FirstN ?? o.MaxObservations, ct);
        // Postgres keeps microseconds: the first instant after the baseline's last observation.
        var currentFrom = Later(started - o.CurrentWindow, baseline.LastObservedAt.AddTicks(TimeSpan.TicksPerMicrosecond));
        var current = await store.ReadSamplesAsync(modelId, baseline.ModelVersion, names, currentFrom, started.AddTicks(TimeSpan.TicksPerMicrosecond), long.MaxValue, o.MaxObservations, ct);
        if (current.Count < o.MinObservations)
            return new(DriftCheckStatus.NotEnoughData,
                $"{modelId} version {baseline.ModelVersion} has {current.Count} observations since {Portal.Components.Shared.Formats.Utc(currentFrom)}; a check needs {o.MinObservations}.");

        var columns = names.Select((name, k) => new SampleColumn(name, reference.Columns[k], current.Columns[k]))
            .Append(new SampleColumn(DriftKinds.Prediction, reference.Columns[^2], current.Columns[^2]))
            .Append(new SampleColumn(DriftKinds.Confidence, reference.Columns[^1], current.Columns[^1]))
            .ToList();
        var watch = Stopwatch.StartNew();
        var computed = await Task.Run(() => DriftComputation.Run(columns, o.Thresholds), ct);
        var kinds = names.Select(_ => DriftKinds.Feature).Append(DriftKinds.Prediction).Append(DriftKinds.Confidence).ToList();
        var results = computed.Report.Features
            .Select((verdict, k) => ModelDriftStore.Result(kinds[k], kinds[k] == DriftKinds.Feature ? verdict.Feature : kinds[k], verdict, computed.Overlays[k]))
            .OrderByDescending(r => r.D).ToList();
        var run = await store.InsertRunAsync(new DriftRunView(0, modelId, baseline.ModelVersion, baseline.Id, started, clock.GetUtcNow(), currentFrom, started,
            reference.Count, current.Count, computed.Report.FeatureAlpha, results.Max(r => r.D), computed.Report.AnyDrift, actor, results), ct);
        logger.LogInformation("Drift check {Run} of {Model}: {Columns} distributions, {Baseline} × {Current} observations, computed in {Ms} ms, drift: {Drift}",
            run.Id, modelId, columns.Count, reference.Count, current.Count, watch.ElapsedMilliseconds, run.Drifted);

        PortalMetrics.ModelDriftScore.WithLabels(modelId).Set(run.MaxD);
        var drifted = results.Where(r => r.Drifted).ToList();
        if (drifted.Count > 0) await RaiseAsync(run, drifted, actor, ct);
        live.Publish(OpsEventTypes.ModelDrift, new DriftRunEvent(modelId, run.Id, run.Drifted, run.MaxD, drifted.Select(r => r.Label).ToList()));
        return new(DriftCheckStatus.Completed, run.Drifted ? $"Drift in {string.Join(", ", drifted.Select(r => r.Label))}." : "No drift.", run);
    }

    private async Task RaiseAsync(DriftRunView run, List<DriftResultView> drifted, string actor, CancellationToken ct)
    {
        var summary = string.Join(", ", drifted.Select(r => $"{r.Label} (D {r.D:F3}, PSI {r.Psi:F3})"));
        await audit.AppendAsync(AuditEventDraft.Create(run.FinishedAt, actor, DriftDetectedType, "model:" + run.ModelId, new
        {
            runId = run.Id, run.ModelVersion, run.BaselineId, run.BaselineCount, run.CurrentCount, run.FeatureAlpha, run.MaxD,
            drifted = drifted.Select(r => new { r.Kind, r.Name, r.D, r.PValue, r.Psi }),
        }, JsonSerializerOptions.Web));
        alerts.Publish(AlertSeverity.Warning, "model.drift", $"Model {run.ModelId} (version {run.ModelVersion}) drifted from its baseline: {summary}");
        if (options.Value.ReduceOnlyStrategies.TryGetValue(run.ModelId, out var strategyId))
            await killSwitch.ReduceOnlyAsync(strategyId, $"Model {run.ModelId} drifted (check {run.Id}): {summary}", actor, ct);
    }

    private static DateTimeOffset Later(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}
