using System.Net;
using AngleSharp.Html.Parser;
using Portal.Features.Audit;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Audit;

/// <summary>The printable audit report (<c>/audit/report</c>): the filter's rows, the chain's verdict, and the export's authorization.</summary>
public sealed class AuditReportTests : IAsyncLifetime
{
    // Test events 1..10 are 2025-03-14 09:00:00.001 .. .010; the even ones have type test.even.
    private const string EvenFirstTen = AuditReport.Path + "?types=test.even&from=2025-03-14T09:00:00Z&to=2025-03-14T09:00:00.011Z";
    private PortalFactory _portal = null!;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync();
        await _portal.AppendAsync(20);
        await _portal.CheckpointAtLeastAsync(await _portal.HeadSeqAsync());
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    private static async Task<AngleSharp.Html.Dom.IHtmlDocument> PageAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        return new HtmlParser().ParseDocument(await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Compliance_prints_the_filtered_rows_decoded_in_UTC_with_a_verified_chain_and_its_Merkle_root()
    {
        var compliance = await _portal.ClientSignedInAsAsync(Roles.Compliance);

        var page = await PageAsync(await compliance.GetAsync(EvenFirstTen));

        var rows = page.QuerySelectorAll("#report-events tbody tr");
        Assert.Equal(5, rows.Length);
        Assert.All(rows, row => Assert.Equal("test.even", row.Children[3].TextContent));
        Assert.Contains("2025-03-14 09:00:00.002 UTC", rows[0].Children[1].TextContent);
        Assert.Contains("\"note\": \"ok\"", rows[0].QuerySelector("pre")!.TextContent);
        Assert.Contains("\"i\": 2", rows[0].QuerySelector("pre")!.TextContent);
        Assert.Equal("true", page.QuerySelector("#report-verification")!.GetAttribute("data-ok"));
        Assert.Contains("Chain verified", page.QuerySelector("#report-verification")!.TextContent);
        Assert.Equal(64, page.QuerySelector("#report-root")!.TextContent.Length);
        Assert.Null(page.QuerySelector("#report-truncated"));
        Assert.Contains("@media print", page.QuerySelector("style")!.TextContent);
        // Printing a report is recorded like an export.
        Assert.Contains(await _portal.EventsAsync(AuditApi.ExportedType), e => e.Payload.GetProperty("format").GetString() == "report");
    }

    [Fact]
    public async Task A_tampered_chain_prints_as_failed_naming_the_seq()
    {
        var compliance = await _portal.ClientSignedInAsAsync(Roles.Compliance);
        var seq = (await _portal.EventsAsync("test.even"))[1].Seq;
        await AuditTestKit.ExecAsync(_portal.Superuser(), $$"""
            alter table audit_events disable trigger audit_events_append_only;
            update audit_events set payload = jsonb_set(payload, '{amount}', '"99.00"') where seq = {{seq}};
            """);

        var page = await PageAsync(await compliance.GetAsync(EvenFirstTen));

        var verdict = page.QuerySelector("#report-verification")!;
        Assert.Equal("false", verdict.GetAttribute("data-ok"));
        Assert.Contains($"CHAIN VERIFICATION FAILED at seq {seq}", verdict.TextContent);
        Assert.Contains("cannot be trusted", verdict.TextContent);
        Assert.Null(page.QuerySelector("#report-root"));
    }

    [Fact]
    public async Task Roles_and_keys_the_export_refuses_are_refused_the_report()
    {
        // A person in the wrong role is sent to the access-denied page, as on any page they may not open.
        var onCall = await _portal.ClientSignedInAsAsync(Roles.OnCall);
        var refused = await onCall.GetAsync(EvenFirstTen);
        Assert.Equal(HttpStatusCode.Found, refused.StatusCode);
        Assert.Contains(IdentitySetup.AccessDeniedPath, refused.Headers.Location!.OriginalString);
        Assert.DoesNotContain("report-events", await refused.Content.ReadAsStringAsync());
        var orders = await _portal.ClientWithScopesAsync(Scopes.Orders);
        Assert.Equal(HttpStatusCode.Forbidden, (await orders.GetAsync(EvenFirstTen)).StatusCode);
        var audit = await _portal.ClientWithScopesAsync(Scopes.Audit);
        Assert.Equal(HttpStatusCode.OK, (await audit.GetAsync(EvenFirstTen)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await audit.GetAsync(AuditReport.Path + "?from=yesterday")).StatusCode);
    }
}

/// <summary>The report's page without a database: the row cap and its note.</summary>
public sealed class AuditReportRenderTests
{
    [Fact]
    public void More_rows_than_the_cap_print_the_first_ones_with_a_note()
    {
        var at = new DateTimeOffset(2026, 12, 6, 5, 0, 0, TimeSpan.Zero);
        var rows = Enumerable.Range(1, AuditReport.MaxRows + 1)
            .Select(i => new AuditEventDetail(i, at.AddSeconds(i), "apikey:x", "test.odd", $"item:{i}", "{\n    \"i\": " + i + "\n}", "00", "11", 1, "demo key <b>"))
            .ToList();
        var query = new AuditExportQuery(AuditExportFormatKind.Csv, null, null, null, null, [], null);
        var check = new AuditVerificationReport("full", true, 0, AuditReport.MaxRows + 1, AuditReport.MaxRows + 1, null, null, 1, AuditReport.MaxRows + 1, 0.1);

        var page = new HtmlParser().ParseDocument(AuditReport.Render(query, 1, AuditReport.MaxRows + 1, rows, check, null, at));

        Assert.Equal(AuditReport.MaxRows, page.QuerySelectorAll("#report-events tbody tr").Length);
        Assert.Contains("Only the first 2,000", page.QuerySelector("#report-truncated")!.TextContent);
        Assert.Equal("demo key <b>", page.QuerySelector("#report-events tbody tr td:nth-child(3)")!.FirstChild!.TextContent); // encoded, not markup
        Assert.Contains("2026-12-06 05:00:01.000 UTC", page.QuerySelector("#report-events tbody tr td:nth-child(2)")!.TextContent);
    }
}
