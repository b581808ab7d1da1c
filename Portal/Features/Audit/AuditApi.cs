using System.Globalization;
using System.IO.Compression;
using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Portal.Domain.Audit;
using Portal.Features.Auth;
using Portal.Features.Identity;

namespace Portal.Features.Audit;

/// <summary>
/// <c>GET /api/audit/public-key</c> (anonymous: it is public); with the <c>audit</c> scope or as a Compliance/Admin
/// person: <c>POST /api/audit/verify?mode=incremental|full</c>, <c>GET /api/audit/export?from&amp;to&amp;types&amp;actor&amp;subject&amp;format=jsonl|csv</c>
/// and <c>GET /api/audit/export/manifest?from&amp;to</c>; with the <c>audit</c> scope or as any audit reader (RiskOfficer
/// too): <c>GET /api/audit/events?before&amp;limit&amp;from&amp;to&amp;types&amp;actor&amp;subject</c>, <c>GET /api/audit/events/{seq}</c>,
/// <c>GET /api/audit/events/{seq}/proof?treeSize</c> and <c>GET /api/audit/consistency?from&amp;to</c>.
/// See docs/audit-trail.md.
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

        var compliance = app.MapGroup("/api/audit").WithTags("Audit").RequireScopeOr(Scopes.Audit, Policies.Compliance);
        compliance.MapPost("/verify", Verify);
        compliance.MapGet("/export", Export);
        compliance.MapGet("/export/manifest", Manifest);
        compliance.MapGet("/export/bundle", Bundle);
        // The printable report is a page for people, beside the audit page, under the export's authorization.
        app.MapGet(AuditReport.Path, AuditReport.RenderAsync).WithTags("Audit").RequireScopeOr(Scopes.Audit, Policies.Compliance).ExcludeFromDescription();

        var readers = app.MapGroup("/api/audit/events").WithTags("Audit").RequireScopeOr(Scopes.Audit, Policies.AuditReader);
        readers.MapGet("", List);
        readers.MapGet("/{seq:long}", Find);
        readers.MapGet("/{seq:long}/proof", Inclusion);
        app.MapGet("/api/audit/consistency", Consistency).WithTags("Audit").RequireScopeOr(Scopes.Audit, Policies.AuditReader);
        return app;
    }

    public const int MaxListLimit = 500;

    /// <summary>Newest first; <c>before</c> is the keyset cursor (the last seq of the previous page, exclusive).</summary>
    private static async Task<Results<Ok<AuditEventList>, ValidationProblem>> List(HttpContext http, IAuditSearch search, CancellationToken ct)
    {
        var q = http.Request.Query;
        var errors = new Dictionary<string, string[]>();
        long? before = null;
        if (q["before"].ToString() is { Length: > 0 } beforeText)
        {
            if (long.TryParse(beforeText, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed >= 1) before = parsed;
            else errors["before"] = ["must be a seq number (1 or more)."];
        }
        var limit = 100;
        if (q["limit"].ToString() is { Length: > 0 } limitText
            && !(int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit is >= 1 and <= MaxListLimit))
            errors["limit"] = [$"must be between 1 and {MaxListLimit}."];
        var from = Time(q, "from", errors);
        var to = Time(q, "to", errors);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors, title: "The audit query is not valid.");

        var filter = new AuditFilter(from, to, q["types"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            q["actor"].ToString(), q["subject"].ToString()).Normalized();
        var upTo = before is { } cursor ? cursor - 1 : await search.HeadSeqAsync(ct);
        var items = await search.PageAsync(filter, upTo, 0, limit, ct);
        return TypedResults.Ok(new AuditEventList(items, items.Count == limit ? items[^1].Seq : null));
    }

    private static async Task<Results<Ok<AuditEventDetail>, ProblemHttpResult>> Find(long seq, IAuditSearch search, CancellationToken ct) =>
        await search.FindAsync(seq, ct) is { } found
            ? TypedResults.Ok(found)
            : TypedResults.Problem($"There is no audit event with seq {seq}.", statusCode: StatusCodes.Status404NotFound);

    /// <summary>Inclusion proof of event <c>seq</c> against the signed checkpoint of size <c>treeSize</c> (default: the smallest covering it).</summary>
    private static async Task<IResult> Inclusion(long seq, HttpContext http, AuditProofs proofs, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (seq < 1) errors["seq"] = ["must be a seq number (1 or more)."];
        var treeSize = PositiveLong(http.Request.Query, "treeSize", errors);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors, title: "The proof request is not valid.");
        var (proof, refusal) = await proofs.InclusionAsync(seq, treeSize, ct);
        return proof is not null ? TypedResults.Ok(proof) : Refused(refusal!);
    }

    /// <summary>Consistency proof between the signed checkpoints of sizes <c>from</c> and <c>to</c>.</summary>
    private static async Task<IResult> Consistency(HttpContext http, AuditProofs proofs, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var from = PositiveLong(http.Request.Query, "from", errors);
        var to = PositiveLong(http.Request.Query, "to", errors);
        if (from is null && !errors.ContainsKey("from")) errors["from"] = ["is required: the tree size of the older checkpoint."];
        if (to is null && !errors.ContainsKey("to")) errors["to"] = ["is required: the tree size of the newer checkpoint."];
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors, title: "The consistency request is not valid.");
        var (proof, refusal) = await proofs.ConsistencyAsync(from!.Value, to!.Value, ct);
        return proof is not null ? TypedResults.Ok(proof) : Refused(refusal!);
    }

    private static IResult Refused(AuditProofRefusal refusal) => refusal.Status == StatusCodes.Status400BadRequest
        ? TypedResults.ValidationProblem(new Dictionary<string, string[]> { [refusal.Field!] = [refusal.Detail] }, title: "The proof request is not valid.")
        : TypedResults.Problem(refusal.Detail, statusCode: refusal.Status, extensions: refusal.Field is null ? null : new Dictionary<string, object?> { ["field"] = refusal.Field });

    private static long? PositiveLong(IQueryCollection q, string name, Dictionary<string, string[]> errors)
    {
        var text = q[name].ToString();
        if (text.Length == 0) return null;
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= 1) return value;
        errors[name] = ["must be a tree size (1 or more)."];
        return null;
    }

    /// <summary>A page of the list; <paramref name="Next"/> is the <c>before</c> of the next page, null on the last.</summary>
    public sealed record AuditEventList(IReadOnlyList<AuditListItem> Events, long? Next);

    private static DateTimeOffset? Time(IQueryCollection q, string name, Dictionary<string, string[]> errors)
    {
        var text = q[name].ToString();
        if (text.Length == 0) return null;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)) return time;
        errors[name] = ["must be an ISO 8601 time such as 2025-03-01T00:00:00Z."];
        return null;
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
        var (head, refusal) = await PrepareAsync(query, from, to, export, trail, clock, user, logger, ct);
        if (refusal is not null) return refusal;

        var response = http.Response;
        response.Headers["Audit-Export-From"] = from.ToString(CultureInfo.InvariantCulture);
        response.Headers["Audit-Export-To"] = to.ToString(CultureInfo.InvariantCulture);
        response.Headers.ContentDisposition = $"attachment; filename=\"{FileName(query, from, to)}\"";
        if (query.Format == AuditExportFormatKind.Jsonl)
            response.Headers.Link = $"</api/audit/export/manifest?from={from}&to={to}>; rel=\"describedby\"";
        else if (query.Format == AuditExportFormatKind.Proofs)
            response.Headers.Link = $"</api/audit/export/manifest{http.Request.QueryString}>; rel=\"describedby\"";
        response.ContentType = query.Format == AuditExportFormatKind.Csv ? "text/csv; charset=utf-8" : "application/jsonl";
        await WriteAsync(response.Body, query, from, to, head, export, ct);
        return TypedResults.Empty;
    }

    /// <summary>
    /// What compliance hands over, in one zip: the JSONL or proofs export, its signed manifest, the log's public key and
    /// how to check them offline. Built in a temporary file (a zip's directory comes last), then sent.
    /// </summary>
    private static async Task<IResult> Bundle(
        HttpContext http, AuditExport export, AuditKeys keys, AuditTrail trail, TimeProvider clock, ClaimsPrincipal user, ILogger<AuditExport> logger, CancellationToken ct)
    {
        var (query, errors) = Parse(http.Request.Query, allowFilters: false);
        if (query is null) return TypedResults.ValidationProblem(errors, title: "The bundle request is not valid.");
        var (from, to) = await export.ResolveRangeAsync(query, ct);
        var (head, refusal) = await PrepareAsync(query, from, to, export, trail, clock, user, logger, ct);
        if (refusal is not null) return refusal;
        var manifest = query.Format == AuditExportFormatKind.Proofs
            ? await export.ProofsManifestAsync(from, to, query, head, ct)
            : await export.SignedManifestAsync(from, to, ct);

        await using var file = new FileStream(Path.GetTempFileName(), FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16,
            FileOptions.Asynchronous | FileOptions.DeleteOnClose);
        var exportName = FileName(query, from, to);
        using (var zip = new ZipArchive(file, ZipArchiveMode.Create, leaveOpen: true))
        {
            await using (var entry = zip.CreateEntry(exportName).Open())
                await WriteAsync(entry, query, from, to, head, export, ct);
            await AddTextAsync(zip, "manifest", manifest);
            await AddTextAsync(zip, "portal-audit.pem", keys.PublicKeyPem);
            await AddTextAsync(zip, "README.txt", $"""
                {exportName}: audit events {from}..{to} of the Portal audit trail{(query.Format == AuditExportFormatKind.Proofs ? ", each with its inclusion proof" : "")}.
                manifest: what the file holds, signed with the log's key (id {keys.KeyId}).
                portal-audit.pem: the log's public key.

                Check it offline, with no access to Portal or its database:
                  dotnet Portal.dll verify-audit-export {exportName} --manifest manifest --public-key portal-audit.pem
                It prints OK, or FAILED with the first line that does not hold. docs/audit-trail.md explains what is proved.
                """);
        }
        file.Position = 0;
        var response = http.Response;
        response.ContentType = "application/zip";
        response.Headers.ContentDisposition = $"attachment; filename=\"{query.FileName(from, to, "zip")}\"";
        response.ContentLength = file.Length;
        await file.CopyToAsync(response.Body, ct);
        return TypedResults.Empty;
    }

    private static async Task AddTextAsync(ZipArchive zip, string name, string text)
    {
        await using var entry = zip.CreateEntry(name).Open();
        await entry.WriteAsync(Encoding.UTF8.GetBytes(text));
    }

    private static string FileName(AuditExportQuery query, long from, long to) => query.FileName(from, to, query.Format == AuditExportFormatKind.Csv ? "csv" : "jsonl");

    /// <summary>
    /// The tree head a proofs export proves against, and the export's audit record, made before a byte leaves: an export
    /// that cannot be audited does not happen. A refusal instead when either cannot be had.
    /// </summary>
    private static async Task<(SignedCheckpoint? Head, IResult? Refusal)> PrepareAsync(AuditExportQuery query, long from, long to,
        AuditExport export, AuditTrail trail, TimeProvider clock, ClaimsPrincipal user, ILogger<AuditExport> logger, CancellationToken ct)
    {
        SignedCheckpoint? head = null;
        if (query.Format == AuditExportFormatKind.Proofs && from <= to && (head = await export.TreeHeadForAsync(to, ct)) is null)
            return (null, TypedResults.Problem($"No signed checkpoint covers seq {to} yet, so the proofs cannot be built; try again shortly.", statusCode: StatusCodes.Status503ServiceUnavailable));
        var format = query.Format switch { AuditExportFormatKind.Csv => "csv", AuditExportFormatKind.Proofs => "proofs", _ => "jsonl" };
        try
        {
            await trail.AppendAsync(AuditEventDraft.Create(clock.GetUtcNow(), Actor(user), ExportedType, $"audit:{from}-{to}",
                new { format, from, to, types = query.Types, actor = query.Actor, subject = query.Subject }));
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Could not record an audit export; refused");
            return (null, TypedResults.Problem("The export could not be recorded in the audit trail, so it was not made.", statusCode: StatusCodes.Status503ServiceUnavailable));
        }
        return (head, null);
    }

    private static Task WriteAsync(Stream output, AuditExportQuery query, long from, long to, SignedCheckpoint? head, AuditExport export, CancellationToken ct) =>
        query.Format switch
        {
            AuditExportFormatKind.Jsonl => export.WriteJsonlAsync(output, from, to, ct),
            AuditExportFormatKind.Proofs => head is null ? Task.CompletedTask : export.WriteProofsAsync(output, from, to, query, head, ct),
            _ => export.WriteCsvAsync(output, from, to, query, ct),
        };

    private static async Task<IResult> Manifest(HttpContext http, AuditExport export, CancellationToken ct)
    {
        var (query, errors) = Parse(http.Request.Query, allowFilters: false);
        if (query is null) return TypedResults.ValidationProblem(errors, title: "The manifest request is not valid.");
        var (from, to) = await export.ResolveRangeAsync(query, ct);
        // A signed note: the manifest's JSON, a blank line and the log key's signature (docs/audit-trail.md).
        var manifest = query.Format == AuditExportFormatKind.Proofs
            ? await export.ProofsManifestAsync(from, to, query, from <= to ? await export.TreeHeadForAsync(to, ct) : null, ct)
            : await export.SignedManifestAsync(from, to, ct);
        return TypedResults.Text(manifest, "text/plain; charset=utf-8");
    }

    internal static string Actor(ClaimsPrincipal user) => user.FindFirstValue(ClaimTypes.NameIdentifier) ?? "unknown";

    /// <summary>Every problem is named by its field, all at once.</summary>
    internal static (AuditExportQuery? Query, Dictionary<string, string[]> Errors) Parse(IQueryCollection q, bool allowFilters)
    {
        var errors = new Dictionary<string, string[]>();
        var format = AuditExportFormatKind.Jsonl;
        switch (q["format"].ToString())
        {
            case "" or "jsonl": break;
            case "csv": format = AuditExportFormatKind.Csv; break;
            case "proofs": format = AuditExportFormatKind.Proofs; break;
            default: errors["format"] = ["must be 'jsonl', 'proofs' or 'csv'."]; break;
        }
        var (fromSeq, fromTime) = Bound(q, "from", errors);
        var (toSeq, toTime) = Bound(q, "to", errors);
        var types = q["types"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var actor = q["actor"].ToString() is { Length: > 0 } a ? a : null;
        var subject = q["subject"].ToString() is { Length: > 0 } s ? s : null;
        // The manifest of a filtered export takes the same filters, so it can count what the export holds.
        var filtered = format == AuditExportFormatKind.Proofs || (allowFilters && format == AuditExportFormatKind.Csv);
        const string contiguous = "filters only 'proofs' and CSV exports: a JSONL export is a contiguous stretch of the chain so that its links can be verified.";
        if (types.Length > 0 && !filtered) errors["types"] = [contiguous];
        if (actor is not null && !filtered) errors["actor"] = [contiguous];
        if (subject is not null && !filtered) errors["subject"] = [contiguous];
        if (!allowFilters && format == AuditExportFormatKind.Csv) errors["format"] = ["must be 'jsonl' or 'proofs' here: a CSV export has no manifest."];
        return errors.Count > 0 ? (null, errors) : (new AuditExportQuery(format, fromSeq, fromTime, toSeq, toTime, types, actor, subject), errors);
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
