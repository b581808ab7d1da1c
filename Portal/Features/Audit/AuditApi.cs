using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Portal.Domain.Audit;
using Portal.Features.Auth;

namespace Portal.Features.Audit;

/// <summary>
/// <c>GET /api/audit/public-key</c> (anonymous: it is public), and with the <c>audit</c> scope:
/// <c>POST /api/audit/verify?mode=incremental|full</c>, <c>GET /api/audit/export?from&amp;to&amp;types&amp;actor&amp;format=jsonl|csv</c>
/// and <c>GET /api/audit/export/manifest?from&amp;to</c>. See docs/audit-trail.md.
/// </summary>
public static class AuditApi
{
    public const string ExportedType = "audit.exported";

    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/audit/public-key", (AuditKeys keys, HttpContext http) =>
        {
            http.Response.Headers["Audit-Key-Id"] = keys.KeyId;
            return TypedResults.Text(keys.PublicKeyPem, "application/x-pem-file");
        }).WithTags("Audit").AllowAnonymous();

        var group = app.MapGroup("/api/audit").WithTags("Audit").RequireAuthorization(Scopes.Policy(Scopes.Audit));
        group.MapPost("/verify", Verify);
        group.MapGet("/export", Export);
        group.MapGet("/export/manifest", Manifest);
        return app;
    }

    private static async Task<Results<Ok<AuditVerificationReport>, ValidationProblem>> Verify(
        string? mode, AuditVerification verification, ClaimsPrincipal user, CancellationToken ct)
    {
        AuditVerificationMode parsed;
        switch (mode ?? "incremental")
        {
            case "incremental": parsed = AuditVerificationMode.Incremental; break;
            case "full": parsed = AuditVerificationMode.Full; break;
            default: return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["mode"] = ["must be 'incremental' or 'full'."] });
        }
        return TypedResults.Ok(await verification.RunAsync(parsed, Actor(user), ct));
    }

    private static async Task<IResult> Export(
        HttpContext http, AuditExport export, AuditTrail trail, TimeProvider clock, ClaimsPrincipal user, ILogger<AuditExport> logger, CancellationToken ct)
    {
        var (query, errors) = Parse(http.Request.Query, allowFilters: true);
        if (query is null) return TypedResults.ValidationProblem(errors, title: "The export request is not valid.");
        var (from, to) = await export.ResolveRangeAsync(query, ct);
        var format = query.Format == AuditExportFormatKind.Csv ? "csv" : "jsonl";
        try
        {
            // Recorded before a byte leaves: an export that cannot be audited does not happen.
            await trail.AppendAsync(AuditEventDraft.Create(clock.GetUtcNow(), Actor(user), ExportedType, $"audit:{from}-{to}",
                new { format, from, to, types = query.Types, actor = query.Actor }));
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Could not record an audit export; refused");
            return TypedResults.Problem("The export could not be recorded in the audit trail, so it was not made.", statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        var response = http.Response;
        response.Headers["Audit-Export-From"] = from.ToString(CultureInfo.InvariantCulture);
        response.Headers["Audit-Export-To"] = to.ToString(CultureInfo.InvariantCulture);
        if (query.Format == AuditExportFormatKind.Jsonl)
        {
            response.Headers.Link = $"</api/audit/export/manifest?from={from}&to={to}>; rel=\"describedby\"";
            response.ContentType = "application/jsonl";
            response.Headers.ContentDisposition = $"attachment; filename=\"audit-{from}-{to}.jsonl\"";
            await export.WriteJsonlAsync(response.Body, from, to, ct);
        }
        else
        {
            response.ContentType = "text/csv; charset=utf-8";
            response.Headers.ContentDisposition = $"attachment; filename=\"audit-{from}-{to}.csv\"";
            await export.WriteCsvAsync(response.Body, from, to, query, ct);
        }
        return TypedResults.Empty;
    }

    private static async Task<IResult> Manifest(HttpContext http, AuditExport export, CancellationToken ct)
    {
        var (query, errors) = Parse(http.Request.Query, allowFilters: false);
        if (query is null) return TypedResults.ValidationProblem(errors, title: "The manifest request is not valid.");
        var (from, to) = await export.ResolveRangeAsync(query, ct);
        var manifest = await export.ManifestAsync(from, to, ct);
        return TypedResults.Text(manifest.ToJson(), "application/json");
    }

    private static string Actor(ClaimsPrincipal user) => user.FindFirstValue(ClaimTypes.NameIdentifier) ?? "unknown";

    /// <summary>Every problem is named by its field, all at once.</summary>
    internal static (AuditExportQuery? Query, Dictionary<string, string[]> Errors) Parse(IQueryCollection q, bool allowFilters)
    {
        var errors = new Dictionary<string, string[]>();
        var format = AuditExportFormatKind.Jsonl;
        switch (q["format"].ToString())
        {
            case "" or "jsonl": break;
            case "csv": format = AuditExportFormatKind.Csv; break;
            default: errors["format"] = ["must be 'jsonl' or 'csv'."]; break;
        }
        var (fromSeq, fromTime) = Bound(q, "from", errors);
        var (toSeq, toTime) = Bound(q, "to", errors);
        var types = q["types"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var actor = q["actor"].ToString() is { Length: > 0 } a ? a : null;
        if (types.Length > 0 && (!allowFilters || format == AuditExportFormatKind.Jsonl))
            errors["types"] = ["filters only CSV exports: a JSONL export is a contiguous stretch of the chain so that its links can be verified."];
        if (actor is not null && (!allowFilters || format == AuditExportFormatKind.Jsonl))
            errors["actor"] = ["filters only CSV exports: a JSONL export is a contiguous stretch of the chain so that its links can be verified."];
        if (!allowFilters && q.ContainsKey("format")) errors["format"] = ["is not used here: the manifest describes the JSONL export."];
        return errors.Count > 0 ? (null, errors) : (new AuditExportQuery(format, fromSeq, fromTime, toSeq, toTime, types, actor), errors);
    }

    private static (long? Seq, DateTimeOffset? Time) Bound(IQueryCollection q, string name, Dictionary<string, string[]> errors)
    {
        var text = q[name].ToString();
        if (text.Length == 0) return (null, null);
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seq) && seq >= 1) return (seq, null);
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)) return (null, time);
        errors[name] = ["must be a seq number (1 or more) or an ISO 8601 time such as 2025-03-01T00:00:00Z."];
        return (null, null);
    }
}
