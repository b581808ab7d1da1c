using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Portal.Features.Halt;
using Portal.Features.Identity;
using Portal.Infrastructure.Http;

namespace Portal.Features.Readiness;

/// <summary>The go-live checklist, its drills and evidence, the runbooks it checks for, and the deployment phase.</summary>
public static class ReadinessApi
{
    private const int MaxBodyBytes = 4 * 1024;
    public const string RunAll = "all";

    public static IEndpointRouteBuilder MapReadinessApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/readiness").WithTags("Readiness");
        group.MapGet("/", async (Checklist checklist, CancellationToken ct) => TypedResults.Ok(await checklist.ComputeAsync(ct)))
            .RequireAuthorization(Policies.AnyStaff);
        group.MapGet("/runs/{id:guid}", GetRun).RequireAuthorization(Policies.AnyStaff);
        group.MapGet("/docs/{name}", GetDocument).RequireAuthorization(Policies.AnyStaff);
        group.MapPost("/drills/{drill}", RunDrill).RequireAuthorization(Policies.RiskOfficer);
        group.MapGet("/phase", GetPhase).RequireAuthorization(Policies.AnyStaff);
        group.MapPost("/phase", RequestPhase).RequireAuthorization(Policies.RiskOfficer);
        group.MapPost("/phase/requests/{id:guid}/approve", (Guid id, PhaseChanges changes, ClaimsPrincipal user, CancellationToken ct) =>
            ApproveAsync(id, changes, user, ct)).RequireAuthorization(Policies.RiskOfficer);
        return app;
    }

    public sealed record RunEvidence(DrillRun Run, System.Text.Json.JsonElement? AuditRecord);

    private static async Task<IResult> GetRun(Guid id, Checklist checklist, CancellationToken ct) =>
        await checklist.FindRunAsync(id, ct) is { } run
            ? TypedResults.Ok(new RunEvidence(run, await checklist.AuditRecordAsync(run.AuditSeq, ct)))
            : TypedResults.Problem($"No drill run has id {id}.", statusCode: StatusCodes.Status404NotFound);

    private static IResult GetDocument(string name, Checklist checklist) =>
        checklist.DocumentPath(name) is { } path
            ? TypedResults.PhysicalFile(path, "text/markdown; charset=utf-8")
            : TypedResults.Problem($"'{name}' is not a checklist document deployed with this version.", statusCode: StatusCodes.Status404NotFound);

    /// <summary><c>{drill}</c> is a drill id or <c>all</c>. The drills run to the end even if the caller goes away: they clear the faults they inject.</summary>
    private static async Task<IResult> RunDrill(string drill, DrillRunner runner, ClaimsPrincipal user)
    {
        if (drill != RunAll && !Drills.IsKnown(drill))
            return TypedResults.Problem($"Unknown drill '{drill}'; known: {RunAll}, {string.Join(", ", Drills.All.Select(d => d.Id))}.", statusCode: StatusCodes.Status404NotFound);
        var actor = PortalActor.Of(user);
        object? result = drill == RunAll
            ? await runner.TryRunAllAsync(actor, CancellationToken.None)
            : await runner.TryRunAsync(drill, actor, CancellationToken.None);
        return result is null
            ? TypedResults.Problem("A drill is already running on this instance; try again when it has finished.", statusCode: StatusCodes.Status409Conflict, title: "Drill busy")
            : TypedResults.Ok(result);
    }

    public sealed record PhaseView(DeploymentPhaseView? Current, IReadOnlyList<PhaseChangeRequest> Pending, IReadOnlyList<PhasePreset> Presets);

    public sealed record PhasePreset(string Phase, string Title, decimal? AccountUsd, IReadOnlyDictionary<string, decimal> Ceilings);

    public static IReadOnlyList<PhasePreset> Presets { get; } = Enum.GetValues<DeploymentPhase>()
        .Select(p => new PhasePreset(DeploymentPhases.Format(p), DeploymentPhases.Title(p), DeploymentPhases.AccountUsd(p), DeploymentPhases.CeilingPreset(p))).ToList();

    private static async Task<Ok<PhaseView>> GetPhase(DeploymentPhaseStore phases, PhaseChanges changes, CancellationToken ct) =>
        TypedResults.Ok(new PhaseView(phases.Current, await changes.PendingAsync(ct), Presets));

    /// <summary>Body: <c>{"phase": "paper|small_live|scale_up", "reason": "..."}</c>.</summary>
    private static async Task<IResult> RequestPhase(HttpRequest request, PhaseChanges changes, ClaimsPrincipal user, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, MaxBodyBytes, ct);
        var phase = body.IsValid ? body.OneOf("phase", required: true, "paper", "small_live", "scale_up") : null;
        var reason = body.IsValid ? body.String("reason", required: true) : null;
        if (!body.IsValid) return TypedResults.ValidationProblem(body.Errors, title: "The phase change request is not valid.");
        return ToResult(await changes.RequestAsync(DeploymentPhases.Parse(phase)!.Value, reason!, PortalActor.Of(user), ct));
    }

    private static async Task<IResult> ApproveAsync(Guid id, PhaseChanges changes, ClaimsPrincipal user, CancellationToken ct) =>
        ToResult(await changes.ApproveAsync(id, PortalActor.Of(user), ct));

    private static IResult ToResult(PhaseChangeOutcome outcome) => outcome.Status switch
    {
        PhaseChangeStatus.Changed => TypedResults.Ok(outcome),
        PhaseChangeStatus.PendingApproval => TypedResults.Accepted((string?)null, outcome),
        PhaseChangeStatus.NotFound => TypedResults.Problem(outcome.Detail, statusCode: StatusCodes.Status404NotFound),
        _ => TypedResults.Problem(outcome.Detail, statusCode: StatusCodes.Status409Conflict, title: "Phase change refused",
            extensions: new Dictionary<string, object?> { ["notGreen"] = outcome.NotGreen }),
    };
}
