using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Portal.Domain.Risk;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Infrastructure.Http;

namespace Portal.Features.Limits;

public static class LimitsApi
{
    private const int MaxBodyBytes = 16 * 1024;

    public static IEndpointRouteBuilder MapLimitsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/limits").WithTags("Limits");
        group.MapGet("/", GetLimits).RequireScopeOr(Scopes.Limits, Policies.AnyStaff);
        group.MapPut("/", PutLimits).RequireScopeOr(Scopes.Limits, Policies.RiskOfficer);
        group.MapGet("/history", async (LimitStore store, CancellationToken ct) => TypedResults.Ok(await store.HistoryAsync(100, ct)))
            .RequireScopeOr(Scopes.Limits, Policies.AnyStaff);
        group.MapGet("/pending", async (LimitStore store, CancellationToken ct) => TypedResults.Ok(await store.PendingAsync(ct)))
            .RequireScopeOr(Scopes.Limits, Policies.AnyStaff);
        // Approvals are for people only: the four eyes are two risk officers, never a key.
        group.MapPost("/pending/{version:long}/approve", (long version, LimitStore store, ClaimsPrincipal user, CancellationToken ct) =>
            DecideAsync(store.ApproveAsync(version, Actor(user), ct))).RequireAuthorization(Policies.RiskOfficer);
        group.MapPost("/pending/{version:long}/reject", (long version, LimitStore store, ClaimsPrincipal user, CancellationToken ct) =>
            DecideAsync(store.RejectAsync(version, Actor(user), ct))).RequireAuthorization(Policies.RiskOfficer);
        return app;
    }

    /// <summary>
    /// <c>Limits:RequireApproval</c> (default true): every change, a person's or an API key's, waits as a
    /// pending version for a RiskOfficer other than its proposer. A key is not a person independent of the
    /// trader, so RTS 6 Art. 15 wants its changes approved too; false applies changes at once (single-person setups).
    /// </summary>
    public const string RequireApprovalKey = "Limits:RequireApproval";

    /// <summary>Who is acting, as history shows it: a person's email or <c>apikey:name</c>.</summary>
    public static string Actor(ClaimsPrincipal user) => user.Identity?.Name ?? "unknown";

    /// <summary>Limit names as API fields and page fields: <c>limits.maxOrderValueUsd</c>.</summary>
    public static string FieldName(string limit) => "limits." + JsonNamingPolicy.CamelCase.ConvertName(limit);

    private static async Task<Results<Ok<LimitVersionView>, ValidationProblem, ProblemHttpResult>> DecideAsync(Task<LimitDecision> decision) =>
        await decision switch
        {
            { Status: LimitDecisionStatus.Done, Version: { } version } => TypedResults.Ok(version),
            { Status: LimitDecisionStatus.Invalid, Errors: { } errors } => TypedResults.ValidationProblem(
                errors.ToDictionary(e => FieldName(e.Key), e => new[] { e.Value }), title: "The pending limits no longer fit the ceilings."),
            { Status: LimitDecisionStatus.NotFound } => TypedResults.Problem("No such limit version.", statusCode: StatusCodes.Status404NotFound),
            { Status: LimitDecisionStatus.SameOfficer } => TypedResults.Problem(
                "The proposer of a limit change (or the owner of the API key that proposed it) cannot approve it; another RiskOfficer must.",
                statusCode: StatusCodes.Status403Forbidden),
            { Status: LimitDecisionStatus.Stale } => TypedResults.Problem(
                "Other limits were put in force after this change was proposed; reject it and propose again.", statusCode: StatusCodes.Status409Conflict),
            var other => TypedResults.Problem($"The version is {other.Version?.State}, not pending.", statusCode: StatusCodes.Status409Conflict),
        };

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
    private static async Task<Results<Ok<LimitsResponse>, Accepted<LimitVersionView>, ValidationProblem, ProblemHttpResult>> PutLimits(
        HttpRequest request, LimitStore store, ClaimsPrincipal user, IConfiguration configuration, CancellationToken ct)
    {
        if (store.Current is not { } current)
            return TypedResults.Problem("Limits are not loaded yet.", statusCode: StatusCodes.Status503ServiceUnavailable);
        var errors = new Dictionary<string, string[]>();
        using var body = await JsonBody.ReadAsync(request, MaxBodyBytes, ct);
        if (!body.IsValid) return TypedResults.ValidationProblem(body.Errors, title: "The limits request is not valid.");
        var root = body.Root;
        var reason = root.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()!.Trim() : "";
        if (ReasonText.Problem(reason) is { } reasonProblem) errors["reason"] = [reasonProblem];
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
            if (configuration.GetValue(RequireApprovalKey, true))
            {
                var isKey = user.Identity?.AuthenticationType == ApiKeyAuthenticationHandler.SchemeName;
                var keyOwner = isKey ? user.FindFirstValue(ApiKeyAuthenticationHandler.OwnerClaim) : null;
                // Whoever holds an ownerless key could approve its change: four-eyes needs to know who answers for it.
                if (isKey && keyOwner is null)
                    return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden",
                        detail: "This API key has no owner, so its limit changes cannot be approved by someone independent of it; create a key with an owner (create-api-key --owner EMAIL, or on the admin page).");
                var pending = await store.ProposeAsync(proposed, current.Version, reason, Actor(user), keyOwner, ct);
                return TypedResults.Accepted($"/api/limits/pending/{pending.Version}", pending);
            }
            var change = await store.ChangeAsync(proposed, current.Version, reason, Actor(user), ct);
            if (change is not { Status: LimitDecisionStatus.Done, Version: { } saved })
                return TypedResults.Problem("Other limits were put in force while this change was being made; read the limits again and retry.",
                    statusCode: StatusCodes.Status409Conflict);
            return TypedResults.Ok(new LimitsResponse(saved.Version, saved.Limits, store.Ceilings, saved.ProposedBy, saved.ProposedAt));
        }
        return TypedResults.ValidationProblem(errors, title: "The limits are not valid.");
    }
}
