using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Features.Identity;
using Portal.Infrastructure.Http;

namespace Portal.Features.ModelDrift;

public static class ModelDriftApi
{
    private const int MaxBaselineBodyBytes = 4096;

    public static IEndpointRouteBuilder MapModelDriftApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/model").WithTags("Model drift");
        group.MapPost("/observations", PostObservations).RequireAuthorization(Scopes.Policy(Scopes.Observations));
        group.MapGet("/{modelId}/drift", GetLatestRun).RequireAuthorization(Policies.AnyStaff);
        group.MapPost("/{modelId}/baseline", PinBaseline).RequireAuthorization(Policies.RiskOfficer);
        group.MapPost("/{modelId}/drift-check", RunCheck).RequireAuthorization(Policies.RiskOfficer);
        return app;
    }

    public sealed record ObservationsAccepted(int Accepted);

    /// <summary>Body: <c>{"observations": [{modelId, modelVersion, timestamp, features: {name: number}, prediction, confidence}]}</c>; all or nothing.</summary>
    private static async Task<Results<Ok<ObservationsAccepted>, ValidationProblem>> PostObservations(
        HttpRequest request, ObservationStore store, IOptions<ModelDriftOptions> options, TimeProvider clock, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, options.Value.MaxBodyBytes, ct);
        var observations = ObservationParser.Parse(body, options.Value, clock.GetUtcNow());
        if (body.IsValid) await store.IngestAsync(observations, body.Errors, ct);
        if (!body.IsValid) return TypedResults.ValidationProblem(body.Errors, title: "The observations are not valid; none were stored.");
        return TypedResults.Ok(new ObservationsAccepted(observations.Count));
    }

    private static async Task<IResult> GetLatestRun(string modelId, ModelDriftStore store, CancellationToken ct) =>
        await store.LatestRunAsync(modelId, ct) is { } run ? TypedResults.Ok(run)
            : TypedResults.Problem($"Model '{modelId}' has no drift check yet.", statusCode: StatusCodes.Status404NotFound);

    /// <summary>Body: <c>{"modelVersion": "...", "reason": "...", "firstN": 5000}</c> or with <c>"from"</c> and <c>"to"</c> (ISO 8601) instead of firstN.</summary>
    private static async Task<IResult> PinBaseline(string modelId, HttpRequest request, ModelDriftService drift, ClaimsPrincipal user, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, MaxBaselineBodyBytes, ct);
        if (!ModelIds.IsWellFormed(modelId)) body.Errors["modelId"] = [$"must be {ModelIds.Rule}."];
        var version = body.IsValid ? body.String("modelVersion", required: true, maxLength: ModelIds.MaxLength) : null;
        var reason = body.IsValid ? body.String("reason", required: true) : null;
        var firstN = body.IsValid ? Integer(body, "firstN") : null;
        var from = body.IsValid ? Timestamp(body, "from") : null;
        var to = body.IsValid ? Timestamp(body, "to") : null;
        if (!body.IsValid) return TypedResults.ValidationProblem(body.Errors, title: "The baseline request is not valid.");

        var outcome = await drift.PinBaselineAsync(new BaselineRequest(modelId, version!, from, to, firstN, reason!), PortalActor.Of(user), ct);
        return outcome.Baseline is { } baseline
            ? TypedResults.Created($"/api/model/{modelId}/drift", baseline)
            : TypedResults.ValidationProblem(outcome.Errors, title: "The baseline request is not valid.");
    }

    private static async Task<IResult> RunCheck(string modelId, ModelDriftService drift, ClaimsPrincipal user, CancellationToken ct)
    {
        var outcome = await drift.CheckAsync(modelId, PortalActor.Of(user), ct);
        return outcome.Status == DriftCheckStatus.Completed
            ? TypedResults.Ok(outcome.Run)
            : TypedResults.Problem(outcome.Detail, statusCode: StatusCodes.Status409Conflict, title: "No drift check was run");
    }

    private static int? Integer(JsonBody body, string name)
    {
        if (!body.Root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number)) return number;
        body.Errors[name] = ["must be a whole number."];
        return null;
    }

    private static DateTimeOffset? Timestamp(JsonBody body, string name)
    {
        var text = body.String(name, required: false, maxLength: 40);
        if (text is null) return null;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value)) return value.ToUniversalTime();
        body.Errors[name] = ["must be an ISO 8601 date and time, e.g. 2026-11-26T00:00:00Z."];
        return null;
    }
}
