using Microsoft.Extensions.Options;
using Portal.Domain.Statistics;
using Portal.Jobs;

namespace Portal.Features.ModelDrift;

/// <summary><c>ModelDrift:*</c>: ingest limits, the check's schedule, windows and thresholds, and model → strategy mapping.</summary>
public sealed class ModelDriftOptions
{
    public const string Section = "ModelDrift";

    /// <summary>Most observations in one POST.</summary>
    public int MaxBatchSize { get; set; } = 5_000;

    /// <summary>Most features in one observation.</summary>
    public int MaxFeatures { get; set; } = 200;

    /// <summary>Largest request body of the ingest endpoint.</summary>
    public int MaxBodyBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>How far in the future an observation's timestamp may lie (clock skew).</summary>
    public TimeSpan FutureTolerance { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>When the Hangfire job checks every model with a baseline (cron, UTC).</summary>
    public string CheckCron { get; set; } = "30 2 * * *";

    /// <summary>The current sample: observations of the baseline's model version from this long before the check (and after the baseline).</summary>
    public TimeSpan CurrentWindow { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Fewest observations on each side for a check (and for pinning a baseline).</summary>
    public int MinObservations { get; set; } = 100;

    /// <summary>Most observations read per side; a baseline or window beyond it uses its first this many.</summary>
    public int MaxObservations { get; set; } = 500_000;

    /// <summary>Family-wise significance level across a model's distributions (Bonferroni).</summary>
    public double Alpha { get; set; } = 0.01;

    public double MinMaterialD { get; set; } = 0.1;

    public double MinMaterialPsi { get; set; } = 0.2;

    /// <summary>Optional model id → strategy id: a drifting model's strategy is moved to reduce-only.</summary>
    public Dictionary<string, string> ReduceOnlyStrategies { get; set; } = new(StringComparer.Ordinal);

    public DriftThresholds Thresholds => new(Alpha, MinMaterialD, MinMaterialPsi);
}

/// <summary>Refuses start-up with a message naming each bad key.</summary>
public sealed class ModelDriftOptionsValidator : IValidateOptions<ModelDriftOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelDriftOptions o)
    {
        const string s = ModelDriftOptions.Section;
        var errors = new List<string>();
        if (o.MaxBatchSize is < 1 or > 100_000) errors.Add($"{s}:MaxBatchSize must be between 1 and 100000.");
        if (o.MaxFeatures is < 1 or > 1_000) errors.Add($"{s}:MaxFeatures must be between 1 and 1000.");
        if (o.MaxBodyBytes is < 1024 or > 256 * 1024 * 1024) errors.Add($"{s}:MaxBodyBytes must be between 1024 and 268435456.");
        if (o.FutureTolerance < TimeSpan.Zero || o.FutureTolerance > TimeSpan.FromHours(1)) errors.Add($"{s}:FutureTolerance must be between 00:00:00 and 01:00:00.");
        if (JobSchedule.Problem(o.CheckCron) is { } cronProblem) errors.Add($"{s}:CheckCron '{o.CheckCron}' {cronProblem}");
        if (o.CurrentWindow < TimeSpan.FromMinutes(1) || o.CurrentWindow > TimeSpan.FromDays(90)) errors.Add($"{s}:CurrentWindow must be between 00:01:00 and 90.00:00:00.");
        if (o.MinObservations is < 10 or > 1_000_000) errors.Add($"{s}:MinObservations must be between 10 and 1000000.");
        if (o.MaxObservations < o.MinObservations || o.MaxObservations > 5_000_000) errors.Add($"{s}:MaxObservations must be between MinObservations and 5000000.");
        if (!(o.Alpha > 0 && o.Alpha < 1)) errors.Add($"{s}:Alpha must be greater than 0 and less than 1.");
        if (!(o.MinMaterialD is >= 0 and <= 1)) errors.Add($"{s}:MinMaterialD must be between 0 and 1.");
        if (!(o.MinMaterialPsi >= 0 && double.IsFinite(o.MinMaterialPsi))) errors.Add($"{s}:MinMaterialPsi must be a non-negative number.");
        foreach (var (model, strategy) in o.ReduceOnlyStrategies)
        {
            if (!ModelIds.IsWellFormed(model)) errors.Add($"{s}:ReduceOnlyStrategies:{model} is not a model id ({ModelIds.Rule}).");
            if (!ModelIds.IsWellFormed(strategy)) errors.Add($"{s}:ReduceOnlyStrategies:{model} '{strategy}' is not a strategy id ({ModelIds.Rule}).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>Model ids, versions, feature names and strategy ids share one spelling rule.</summary>
public static class ModelIds
{
    public const int MaxLength = 64;
    public const string Rule = "1 to 64 characters of A-Z, a-z, 0-9, '-', '_', '.' or ':'";

    public static bool IsWellFormed(string? id) =>
        id is { Length: > 0 and <= MaxLength } && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');
}
