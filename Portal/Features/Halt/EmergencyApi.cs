using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.HttpResults;
using Portal.Domain.Trading;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Infrastructure.Http;

namespace Portal.Features.Halt;

public static class EmergencyApi
{
    private const int MaxBodyBytes = 4096;

    public static IEndpointRouteBuilder MapEmergencyApi(this IEndpointRouteBuilder app)
    {
        // A pager or monitor (scope halt) or an OnCall/RiskOfficer person may halt; flattening needs scope flatten or a
        // RiskOfficer (checked per request: the mode is in the body); only RiskOfficer people resume.
        app.MapPost("/api/emergency/stop", Stop).WithTags("Emergency").RequireAuthorization(Policies.EmergencyStop);
        app.MapPost("/api/emergency/resume", Resume).WithTags("Emergency").RequireAuthorization(Policies.RiskOfficer);
        app.MapPost("/api/emergency/resume/{requestId:guid}/approve", Approve).WithTags("Emergency").RequireAuthorization(Policies.RiskOfficer);
        app.MapPost("/api/emergency/resume/{requestId:guid}/reject", Reject).WithTags("Emergency").RequireAuthorization(Policies.RiskOfficer);
        app.MapGet("/api/trading-state", GetState).WithTags("Emergency").RequireAuthorization(Policies.AnyCaller);
        return app;
    }

    /// <summary>
    /// Body: <c>{"reason": "...", "mode": "halt|cancel|flatten", "strategyId": "optional"}</c>. A caller who may not flatten
    /// asking for <c>flatten</c> gets 403 and nothing happens, not even a halt: a halt they did not ask for would surprise
    /// as much as a flatten they may not do.
    /// </summary>
    private static async Task<Results<Ok<HaltResult>, ValidationProblem, ProblemHttpResult>> Stop(
        HttpRequest request, KillSwitch killSwitch, ClaimsPrincipal user, IAuthorizationService authorization, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, MaxBodyBytes, ct);
        var reason = body.IsValid ? body.Reason() : null;
        var mode = body.IsValid ? body.OneOf("mode", required: true, "halt", "cancel", "flatten") : null;
        if (mode == "flatten" && !(await authorization.AuthorizeAsync(user, Policies.MayFlatten)).Succeeded)
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden",
                detail: "Mode 'flatten' closes every position: it needs an API key with the 'flatten' scope or a RiskOfficer. Nothing was halted; use 'halt' or 'cancel'.");
        var strategyId = body.IsValid ? StrategyId(body) : null;
        if (mode == "flatten" && strategyId is not null)
            body.Errors["mode"] = ["'flatten' closes every position of the account; it cannot be limited to one strategy (use 'cancel')."];
        if (!body.IsValid) return TypedResults.ValidationProblem(body.Errors, title: "The halt request is not valid.");

        // The halt itself is never tied to the caller's connection: a dropped request must not stop a halt half way.
        var result = await killSwitch.HaltAsync(reason!, mode switch { "cancel" => HaltMode.Cancel, "flatten" => HaltMode.Flatten, _ => HaltMode.Halt },
            strategyId, Actor(user), automatic: false, CancellationToken.None);
        return TypedResults.Ok(result);
    }

    /// <summary>Body: <c>{"reason": "...", "strategyId": "optional", "mode": "active|reduce_only"}</c> (default active).</summary>
    private static async Task<IResult> Resume(HttpRequest request, KillSwitch killSwitch, ClaimsPrincipal user, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, MaxBodyBytes, ct);
        var reason = body.IsValid ? body.Reason() : null;
        var target = body.IsValid ? body.OneOf("mode", required: false, "active", "reduce_only") : null;
        var strategyId = body.IsValid ? StrategyId(body) : null;
        if (!body.IsValid) return TypedResults.ValidationProblem(body.Errors, title: "The resume request is not valid.");
        return ToResult(await killSwitch.RequestResumeAsync(reason!, strategyId, target == "reduce_only" ? TradingMode.ReduceOnly : TradingMode.Active, Actor(user), ct));
    }

    private static async Task<IResult> Approve(Guid requestId, KillSwitch killSwitch, ClaimsPrincipal user, CancellationToken ct) =>
        ToResult(await killSwitch.ApproveResumeAsync(requestId, Actor(user), ct));

    private static async Task<IResult> Reject(Guid requestId, KillSwitch killSwitch, ClaimsPrincipal user, CancellationToken ct) =>
        ToResult(await killSwitch.RejectResumeAsync(requestId, Actor(user), ct));

    public sealed record TradingStateView(
        IReadOnlyCollection<TradingStateEntry> Scopes, bool SafeMode, IReadOnlyDictionary<string, DateTimeOffset> SafeModeCauses,
        IReadOnlyList<ResumeRequestView> PendingResumes, string? LastWebhookFailure);

    private static async Task<Ok<TradingStateView>> GetState(TradingStateStore store, SafeModeMonitor safeMode, KillSwitch killSwitch, AlertPublisher alerts, CancellationToken ct)
    {
        var scopes = store.All.Count == 0 ? [store.Get(TradingScopes.Global)] : store.All;
        return TypedResults.Ok(new TradingStateView(scopes, safeMode.Reason is not null, safeMode.Active,
            await killSwitch.PendingResumesAsync(ct), alerts.LastWebhookFailure));
    }

    private static IResult ToResult(ResumeOutcome outcome) => outcome.Status switch
    {
        ResumeStatus.Resumed or ResumeStatus.Rejected => TypedResults.Ok(outcome),
        ResumeStatus.PendingApproval => TypedResults.Accepted((string?)null, outcome),
        _ => TypedResults.Problem(outcome.Detail, statusCode: StatusCodes.Status409Conflict, title: "Resume refused"),
    };

    private static string? StrategyId(JsonBody body)
    {
        var id = body.String("strategyId", required: false, maxLength: 64);
        if (id is not null && !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':'))
        {
            body.Errors["strategyId"] = ["must be characters of A-Z, a-z, 0-9, '-', '_', '.' or ':'."];
            return null;
        }
        return id;
    }

    private static string Actor(ClaimsPrincipal user) => PortalActor.Of(user);
}
