using System.Text.Json;
using Portal.Domain.Audit;
using Portal.Features.Audit;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Audit;

/// <summary>A chain longer than two read windows (<see cref="AuditChainStore.Chunk"/> seqs per query): verification and export read it all, once, in order.</summary>
public sealed class AuditLongChainTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;
    private long _head;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync();
        var trail = _portal.Get<AuditTrail>();
        const int Batch = 5_000;
        for (var start = 1; start <= (2 * AuditChainStore.Chunk) + 1_234; start += Batch)
            await trail.AppendAsync(Enumerable.Range(start, Batch).Select(i => AuditTestKit.Draft(i)).ToList());
        _head = await _portal.HeadSeqAsync();
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    private Task<AuditVerificationReport> VerifyAsync() =>
        _portal.Get<AuditVerification>().VerifyAsync(AuditVerificationMode.Full, CancellationToken.None);

    [Fact]
    public async Task Every_row_is_verified_and_exported_once_in_order_across_windows()
    {
        var report = await VerifyAsync();
        Assert.True(report.Ok, report.Problem);
        Assert.Equal(_head, report.Verified);

        var export = _portal.Get<AuditExport>();
        using (var jsonl = new MemoryStream())
        {
            await export.WriteJsonlAsync(jsonl, 1, _head, CancellationToken.None);
            jsonl.Position = 0;
            using var lines = new StreamReader(jsonl);
            long expected = 0;
            while (await lines.ReadLineAsync() is { } line)
                Assert.Equal(++expected, JsonDocument.Parse(line).RootElement.GetProperty("seq").GetInt64());
            Assert.Equal(_head, expected);
        }

        // A filter leaves most of each window empty; the rows it keeps still come once each, in order.
        using var csv = new MemoryStream();
        var onlyOdd = new AuditExportQuery(AuditExportFormatKind.Csv, null, null, null, null, ["test.odd"], null);
        await export.WriteCsvAsync(csv, 1, _head, onlyOdd, CancellationToken.None);
        csv.Position = 0;
        var seqs = new StreamReader(csv).ReadToEnd().Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(row => long.Parse(row[..row.IndexOf(',', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture))
            .ToList();
        var odd = await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select count(*) from audit_events where type = 'test.odd'");
        Assert.Equal(odd, seqs.Count);
        Assert.Equal(seqs.Order(), seqs);
        Assert.Equal(seqs.Count, seqs.Distinct().Count());
    }

    [Fact]
    public async Task A_row_deleted_in_a_later_window_is_named_by_its_seq()
    {
        var gone = AuditChainStore.Chunk + 17;
        await AuditTestKit.ExecAsync(_portal.Superuser(), $"""
            alter table audit_events disable trigger audit_events_append_only;
            delete from audit_events where seq = {gone};
            """);

        var report = await VerifyAsync();
        Assert.False(report.Ok);
        Assert.Equal(gone, report.FirstBadSeq);
        Assert.StartsWith(AuditProblem.MissingRow, report.Problem);
    }
}
