using System.Globalization;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Primitives;
using Portal.Domain.Audit;

namespace Portal.Features.Audit;

/// <summary>
/// <c>GET /audit/report?from&amp;to&amp;types&amp;actor&amp;subject</c>: the events of the audit page's (and the CSV export's) filters as
/// one HTML page to print or save as PDF, with the chain's verification at the time of printing, the signed checkpoint
/// (Merkle root) covering the range, actors by name, payloads decoded and every time in UTC. At most
/// <see cref="MaxRows"/> rows, with a note when there are more. Made under the export's authorization and recorded
/// in the trail like an export (<c>audit.exported</c>, format <c>report</c>).
/// </summary>
public static class AuditReport
{
    public const string Path = "/audit/report";
    public const int MaxRows = 2_000;
    private const string TimeFormat = "yyyy-MM-dd HH:mm:ss.fff 'UTC'";

    public static async Task<IResult> RenderAsync(HttpContext http, AuditExport export, AuditSearch search, AuditVerification verification,
        AuditTrail trail, TimeProvider clock, ClaimsPrincipal user, ILogger<AuditExport> logger, CancellationToken ct)
    {
        // The CSV export's parsing: the same bounds (seq or ISO time) and filters, named in the same errors.
        var fields = http.Request.Query.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        fields["format"] = new StringValues("csv");
        var (query, errors) = AuditApi.Parse(new QueryCollection(fields), allowFilters: true);
        if (query is null) return TypedResults.ValidationProblem(errors, title: "The report's filters are not valid.");

        var (from, to) = await export.ResolveRangeAsync(query, ct);
        try
        {
            await trail.AppendAsync(AuditEventDraft.Create(clock.GetUtcNow(), AuditApi.Actor(user), AuditApi.ExportedType, $"audit:{from}-{to}",
                new { format = "report", from, to, types = query.Types, actor = query.Actor, subject = query.Subject }));
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Could not record an audit report; refused");
            return TypedResults.Problem("The report could not be recorded in the audit trail, so it was not made.", statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        var filter = new AuditFilter(null, null, query.Types, query.Actor, query.Subject);
        var rows = from <= to ? await search.RangeAsync(filter, from, to, MaxRows + 1, ct) : [];
        var check = await verification.VerifyAsync(AuditVerificationMode.Full, ct);
        var checkpoint = check.Ok && from <= to ? await export.TreeHeadForAsync(to, ct) : null;
        var html = Render(query, from, to, rows, check, checkpoint, clock.GetUtcNow());
        return TypedResults.Content(html, "text/html; charset=utf-8");
    }

    internal static string Render(AuditExportQuery query, long from, long to, IReadOnlyList<AuditEventDetail> rows,
        AuditVerificationReport check, SignedCheckpoint? checkpoint, DateTimeOffset printedAt)
    {
        static string E(string? text) => HtmlEncoder.Default.Encode(text ?? "");
        static string Utc(DateTimeOffset at) => at.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);
        var truncated = rows.Count > MaxRows;
        var shown = truncated ? rows.Take(MaxRows).ToList() : rows;
        var html = new StringBuilder();
        html.Append("""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Audit report · Portal</title>
            <style>
            body { font: 13px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #111; }
            h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
            dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0 0 1rem; }
            dt { font-weight: 600; }
            .verdict { padding: .5rem .75rem; border: 2px solid; margin: 0 0 1rem; }
            .verdict.ok { border-color: #2e7d32; } .verdict.failed { border-color: #c62828; background: #fdecea; }
            .note { padding: .4rem .75rem; background: #fff8e1; border: 1px solid #f9a825; margin: 0 0 1rem; }
            table { border-collapse: collapse; width: 100%; }
            th, td { border: 1px solid #bbb; padding: .25rem .4rem; text-align: left; vertical-align: top; }
            th { background: #eee; }
            td pre { margin: 0; white-space: pre-wrap; word-break: break-word; font-size: 11px; }
            code { word-break: break-all; }
            .print-button { margin-bottom: 1rem; }
            @media print {
              body { margin: 0; font-size: 10pt; }
              .print-button { display: none; }
              thead { display: table-header-group; }
              tr { break-inside: avoid; page-break-inside: avoid; }
              .verdict.failed { background: none; }
              a { color: inherit; text-decoration: none; }
            }
            </style></head><body>
            <button class="print-button" onclick="window.print()">Print</button>
            <h1>Audit report</h1>
            """);
        html.Append("<dl id=\"report-filters\">");
        html.Append(CultureInfo.InvariantCulture, $"<dt>Printed</dt><dd>{E(Utc(printedAt))}</dd>");
        html.Append(CultureInfo.InvariantCulture, $"<dt>From</dt><dd>{E(Bound(query.FromSeq, query.FromTime, "the chain's start"))}</dd>");
        html.Append(CultureInfo.InvariantCulture, $"<dt>To</dt><dd>{E(Bound(query.ToSeq, query.ToTime, "the head"))}</dd>");
        html.Append(CultureInfo.InvariantCulture, $"<dt>Seqs</dt><dd>{(from <= to ? $"{from}–{to}" : "none in this range")}</dd>");
        html.Append(CultureInfo.InvariantCulture, $"<dt>Types</dt><dd>{E(query.Types.Count > 0 ? string.Join(", ", query.Types) : "all")}</dd>");
        html.Append(CultureInfo.InvariantCulture, $"<dt>Actor</dt><dd>{E(query.Actor ?? "any")}</dd>");
        html.Append(CultureInfo.InvariantCulture, $"<dt>Subject</dt><dd>{E(query.Subject ?? "any")}</dd>");
        html.Append("</dl>");

        var rangeAffected = check.FirstBadSeq is { } bad && bad <= to;
        html.Append(CultureInfo.InvariantCulture, $"<div id=\"report-verification\" class=\"verdict {(check.Ok ? "ok" : "failed")}\" data-ok=\"{(check.Ok ? "true" : "false")}\">");
        if (check.Ok)
            html.Append(CultureInfo.InvariantCulture, $"<strong>Chain verified:</strong> all {check.Verified:N0} events (seqs 1–{check.ToSeq}) re-hashed and linked, held to {check.Checkpoints} signed checkpoints; {E(check.Authenticated)}.");
        else
            html.Append(CultureInfo.InvariantCulture, $"<strong>CHAIN VERIFICATION FAILED</strong> at seq {check.FirstBadSeq}: {E(check.Problem)}. {(rangeAffected ? "The failure lies at or before the end of this report's range: its rows cannot be trusted." : "The failure lies after this report's range.")} {(check.LastGoodCheckpointSeq is { } good ? $"The chain matched its signed checkpoint through seq {good}." : "")}");
        if (check.Witness is { } witness) html.Append(CultureInfo.InvariantCulture, $"<br>Witness: {E(witness)}.");
        html.Append(CultureInfo.InvariantCulture, $"<br><small>Verified at {E(Utc(printedAt))} ({check.Mode}, {check.Seconds:F2} s).</small></div>");

        html.Append("<dl id=\"report-checkpoint\">");
        if (checkpoint is not null)
        {
            html.Append(CultureInfo.InvariantCulture, $"<dt>Signed checkpoint</dt><dd>seq {checkpoint.Seq}, signed {E(Utc(checkpoint.Time))}{(checkpoint.Origin is { } origin ? $" by {E(origin)}" : "")}</dd>");
            html.Append(CultureInfo.InvariantCulture, $"<dt>Chain hash at seq {checkpoint.Seq}</dt><dd><code>{Convert.ToHexStringLower(checkpoint.Hash)}</code></dd>");
            if (checkpoint.RootHash is { } root) html.Append(CultureInfo.InvariantCulture, $"<dt>Merkle root</dt><dd><code id=\"report-root\">{Convert.ToHexStringLower(root)}</code> (tree size {checkpoint.Seq})</dd>");
        }
        else html.Append("<dt>Signed checkpoint</dt><dd>none shown: " + (check.Ok ? "no signed checkpoint covers this range yet" : "the chain does not verify") + "</dd>");
        html.Append("</dl>");

        if (truncated)
            html.Append(CultureInfo.InvariantCulture, $"<p id=\"report-truncated\" class=\"note\">Only the first {MaxRows:N0} matching events are printed; more match these filters. Narrow the time range, or use the CSV export for all of them.</p>");
        html.Append(CultureInfo.InvariantCulture, $"<p id=\"report-count\">{shown.Count:N0} event{(shown.Count == 1 ? "" : "s")}{(truncated ? " (truncated)" : "")}.</p>");
        html.Append("<table id=\"report-events\"><thead><tr><th>Seq</th><th>Time (UTC)</th><th>Actor</th><th>Type</th><th>Subject</th><th>Payload</th></tr></thead><tbody>");
        foreach (var row in shown)
        {
            var actor = row.ActorName is { } name ? $"{E(name)}<br><small>{E(row.Actor)}</small>" : E(row.Actor);
            html.Append(CultureInfo.InvariantCulture,
                $"<tr data-seq=\"{row.Seq}\"><td>{row.Seq}</td><td>{E(Utc(row.Time))}</td><td>{actor}</td><td>{E(row.Type)}</td><td>{E(row.Subject)}</td><td><pre>{E(row.Payload)}</pre></td></tr>");
        }
        html.Append("</tbody></table></body></html>");
        return html.ToString();
    }

    private static string Bound(long? seq, DateTimeOffset? time, string none) =>
        seq is { } s ? $"seq {s}" : time is { } t ? t.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture) : none;
}
