using System.Globalization;
using System.Text.Json;
using Portal.Infrastructure.Http;

namespace Portal.Features.ModelDrift;

/// <summary>One model output with the inputs it saw.</summary>
public sealed record ModelObservation(
    string ModelId, string ModelVersion, DateTimeOffset ObservedAt, IReadOnlyDictionary<string, double> Features, double Prediction, double Confidence);

/// <summary>
/// Reads <c>{"observations": [{modelId, modelVersion, timestamp, features: {name: number}, prediction, confidence}, ...]}</c>,
/// naming every bad field as <c>observations[i].field</c> (at most <see cref="MaxReportedErrors"/> of them).
/// </summary>
public static class ObservationParser
{
    public const int MaxReportedErrors = 50;

    public static IReadOnlyList<ModelObservation> Parse(JsonBody body, ModelDriftOptions options, DateTimeOffset now)
    {
        var errors = body.Errors;
        if (!body.IsValid) return [];
        if (!body.Root.TryGetProperty("observations", out var array) || array.ValueKind != JsonValueKind.Array)
        {
            errors["observations"] = ["is required: an array of observations."];
            return [];
        }
        var count = array.GetArrayLength();
        if (count == 0) errors["observations"] = ["must hold at least one observation."];
        if (count > options.MaxBatchSize) errors["observations"] = [$"must hold at most {options.MaxBatchSize} observations (got {count})."];
        if (!body.IsValid) return [];

        var result = new List<ModelObservation>(count);
        var index = 0;
        foreach (var element in array.EnumerateArray())
        {
            if (errors.Count >= MaxReportedErrors) break;
            var observation = ParseOne(element, $"observations[{index++}]", errors, options, now);
            if (observation is not null) result.Add(observation);
        }
        return result;
    }

    private static ModelObservation? ParseOne(JsonElement element, string at, Dictionary<string, string[]> errors, ModelDriftOptions options, DateTimeOffset now)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            errors[at] = ["must be an object."];
            return null;
        }
        var before = errors.Count;
        foreach (var property in element.EnumerateObject())
        {
            if (property.Name is not ("modelId" or "modelVersion" or "timestamp" or "features" or "prediction" or "confidence"))
                errors[$"{at}.{property.Name}"] = ["is not a field of an observation."];
        }
        var modelId = Id(element, "modelId", at, errors);
        var modelVersion = Id(element, "modelVersion", at, errors);
        var timestamp = Timestamp(element, at, errors, now + options.FutureTolerance);
        var features = Features(element, at, errors, options.MaxFeatures);
        var prediction = Number(element, "prediction", at, errors);
        var confidence = Number(element, "confidence", at, errors);
        if (confidence is < 0 or > 1) errors[$"{at}.confidence"] = ["must be between 0 and 1."];
        return errors.Count == before
            ? new ModelObservation(modelId!, modelVersion!, timestamp!.Value, features!, prediction!.Value, confidence!.Value)
            : null;
    }

    private static bool TryGet(JsonElement element, string name, string at, Dictionary<string, string[]> errors, out JsonElement value)
    {
        if (element.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null) return true;
        errors[$"{at}.{name}"] = ["is required."];
        return false;
    }

    private static string? Id(JsonElement element, string name, string at, Dictionary<string, string[]> errors)
    {
        if (!TryGet(element, name, at, errors, out var value)) return null;
        var text = value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        if (ModelIds.IsWellFormed(text)) return text;
        errors[$"{at}.{name}"] = [$"must be a string of {ModelIds.Rule}."];
        return null;
    }

    private static DateTimeOffset? Timestamp(JsonElement element, string at, Dictionary<string, string[]> errors, DateTimeOffset latest)
    {
        if (!TryGet(element, "timestamp", at, errors, out var value)) return null;
        if (value.ValueKind != JsonValueKind.String
            || !DateTimeOffset.TryParse(value.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var timestamp))
        {
            errors[$"{at}.timestamp"] = ["must be an ISO 8601 date and time, e.g. 2026-11-26T14:30:00Z."];
            return null;
        }
        if (timestamp > latest)
        {
            errors[$"{at}.timestamp"] = ["lies in the future."];
            return null;
        }
        return timestamp.ToUniversalTime();
    }

    private static double? Number(JsonElement element, string name, string at, Dictionary<string, string[]> errors)
    {
        if (!TryGet(element, name, at, errors, out var value)) return null;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && double.IsFinite(number)) return number;
        errors[$"{at}.{name}"] = ["must be a finite number."];
        return null;
    }

    private static Dictionary<string, double>? Features(JsonElement element, string at, Dictionary<string, string[]> errors, int maxFeatures)
    {
        if (!TryGet(element, "features", at, errors, out var value)) return null;
        if (value.ValueKind != JsonValueKind.Object)
        {
            errors[$"{at}.features"] = ["must be an object of feature name to number."];
            return null;
        }
        var features = new Dictionary<string, double>(StringComparer.Ordinal);
        var ok = true;
        foreach (var feature in value.EnumerateObject())
        {
            if (features.Count == maxFeatures)
            {
                errors[$"{at}.features"] = [$"must have at most {maxFeatures} features."];
                return null;
            }
            if (!ModelIds.IsWellFormed(feature.Name))
            {
                errors[$"{at}.features"] = [$"'{Truncate(feature.Name)}' is not a feature name ({ModelIds.Rule})."];
                ok = false;
            }
            else if (feature.Value.ValueKind == JsonValueKind.Number && feature.Value.TryGetDouble(out var number) && double.IsFinite(number))
            {
                if (!features.TryAdd(feature.Name, number))
                {
                    errors[$"{at}.features.{feature.Name}"] = ["appears more than once."];
                    ok = false;
                }
            }
            else
            {
                errors[$"{at}.features.{feature.Name}"] = ["must be a finite number."];
                ok = false;
            }
        }
        if (ok && features.Count == 0)
        {
            errors[$"{at}.features"] = ["must have at least one feature."];
            ok = false;
        }
        return ok ? features : null;
    }

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
