using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Portal.Domain.Risk;
using Portal.Features.Auth;

namespace Portal.Features.Limits;

public static class LimitsApi
{
    public static IEndpointRouteBuilder MapLimitsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/limits").WithTags("Limits").RequireAuthorization(Scopes.Policy(Scopes.Limits));
        group.MapGet("/", GetLimits);
        group.MapPut("/", PutLimits);
        group.MapGet("/history", async (LimitStore store, CancellationToken ct) => TypedResults.Ok(await store.HistoryAsync(100, ct)));
        return app;
    }

    public sealed record LimitsResponse(long Version, RiskLimits Limits, RiskLimits Ceilings, string ChangedBy, DateTimeOffset ChangedAt);

    private static Results<Ok<LimitsResponse>, ProblemHttpResult> GetLimits(LimitStore store) =>
        store.Current is { } current
            ? TypedResults.Ok(new LimitsResponse(current.Version, current.Limits, store.Ceilings, current.ProposedBy, current.ProposedAt))
            : TypedResults.Problem("Limits are not loaded yet.", statusCode: StatusCodes.Status503ServiceUnavailable);

    /// <summary>
    /// Body: <c>{"reason": "...", "limits": {"maxOrderValueUsd": 4000, ...}}</c>; limits not named keep
    /// their value. Names match case-insensitively (the configuration keys are the same names); errors
    /// name the field as <c>limits.maxOrderValueUsd</c>.
    /// </summary>
    private static async Task<Results<Ok<LimitsResponse>, ValidationProblem, ProblemHttpResult>> PutLimits(
        HttpRequest request, LimitStore store, ClaimsPrincipal user, CancellationToken ct)
    {
        if (store.Current is not { } current)
            return TypedResults.Problem("Limits are not loaded yet.", statusCode: StatusCodes.Status503ServiceUnavailable);
        var errors = new Dictionary<string, string[]>();
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, new JsonDocumentOptions { MaxDepth = 8 }, ct);
        }
        catch (JsonException ex)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["body"] = [$"is not valid JSON: {ex.Message}"] });
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["body"] = ["must be a JSON object."] });
            var reason = root.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()!.Trim() : "";
            if (reason.Length is 0 or > 500) errors["reason"] = ["is required (1 to 500 characters)."];
            var values = current.Limits.Entries().ToDictionary(e => e.Name, e => e.Value, StringComparer.OrdinalIgnoreCase);
            if (!root.TryGetProperty("limits", out var limits) || limits.ValueKind != JsonValueKind.Object)
                errors["limits"] = ["must be an object of limit name to number."];
            else
            {
                foreach (var property in limits.EnumerateObject())
                {
                    var field = FieldName(property.Name);
                    if (!values.ContainsKey(property.Name)) errors[field] = ["is not a known limit."];
                    else if (property.Value.ValueKind != JsonValueKind.Number || !property.Value.TryGetDecimal(out var value))
                        errors[field] = ["must be a number."];
                    else values[property.Name] = value;
                }
            }
            // Every field is judged, so one reply lists every problem.
            var proposed = RiskOptions.ToLimits(values, null);
            foreach (var (name, problem) in LimitRules.Validate(proposed, store.Ceilings))
                errors.TryAdd(FieldName(name), [problem]);
            if (errors.Count == 0)
            {
                var actor = user.FindFirstValue(ClaimTypes.NameIdentifier) ?? "unknown";
                var saved = await store.ChangeAsync(proposed, reason, actor, ct);
                return TypedResults.Ok(new LimitsResponse(saved.Version, saved.Limits, store.Ceilings, saved.ProposedBy, saved.ProposedAt));
            }
        }
        return TypedResults.ValidationProblem(errors, title: "The limits are not valid.");
    }

    private static string FieldName(string limit) => "limits." + JsonNamingPolicy.CamelCase.ConvertName(limit);
}
