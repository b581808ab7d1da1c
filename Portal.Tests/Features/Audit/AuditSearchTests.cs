using System.Net;
using Portal.Domain.Audit;
using Portal.Features.Audit;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Audit;

/// <summary>The audit search, list API and live feed over real PostgreSQL; the audit API for signed-in people.</summary>
public sealed class AuditSearchTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;
    private string _actor = null!;
    private readonly List<long> _seqs = [];
    private static readonly DateTimeOffset Start = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync();
        _actor = "search-" + Guid.NewGuid().ToString("N")[..8];
        var trail = _portal.Get<AuditTrail>();
        for (var i = 0; i < 6; i++)
            await trail.AppendAsync(AuditEventDraft.Create(Start.AddMinutes(i), _actor, i % 2 == 0 ? "search.even" : "search.odd", $"thing:{i % 3}", new { i }));
        // Read back by actor, not as the head after each append: a background event (safe mode at start-up) may land in between.
        _seqs.AddRange((await _portal.EventsAsync("search.")).Where(e => e.Actor == _actor).Select(e => e.Seq));
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task Filters_select_exactly_the_matching_events_newest_first()
    {
        var search = _portal.Get<IAuditSearch>();
        var head = await search.HeadSeqAsync(CancellationToken.None);

        var byActor = await search.PageAsync(new AuditFilter(Actor: _actor), head, 0, 100, CancellationToken.None);
        Assert.Equal(_seqs.AsEnumerable().Reverse(), byActor.Select(e => e.Seq));

        var odd = await search.PageAsync(new AuditFilter(Types: ["search.odd"], Actor: _actor), head, 0, 100, CancellationToken.None);
        Assert.Equal([_seqs[5], _seqs[3], _seqs[1]], odd.Select(e => e.Seq));

        var subject = await search.PageAsync(new AuditFilter(Actor: _actor, Subject: "thing:1"), head, 0, 100, CancellationToken.None);
        Assert.Equal([_seqs[4], _seqs[1]], subject.Select(e => e.Seq));

        var window = new AuditFilter(Start.AddMinutes(2), Start.AddMinutes(4), Actor: _actor);
        Assert.Equal([_seqs[3], _seqs[2]], (await search.PageAsync(window, head, 0, 100, CancellationToken.None)).Select(e => e.Seq));
        Assert.Equal(2, await search.CountAsync(window, head, 100, CancellationToken.None));
        Assert.Equal(2, await search.CountAsync(new AuditFilter(Actor: _actor), head, 1, CancellationToken.None));

        Assert.Contains("search.odd", await search.TypesAsync(CancellationToken.None));
        var detail = await search.FindAsync(_seqs[2], CancellationToken.None);
        Assert.Equal(("search.even", "thing:2"), (detail!.Type, detail.Subject));
        Assert.Equal(64, detail.Hash.Length);
        Assert.Equal((await search.FindAsync(_seqs[2] - 1, CancellationToken.None))!.Hash, detail.PrevHash);
    }

    [Fact]
    public async Task Pages_continue_from_the_last_seq_seen()
    {
        var search = _portal.Get<IAuditSearch>();
        var pager = new AuditPager();
        pager.Reset(await search.HeadSeqAsync(CancellationToken.None));
        var filter = new AuditFilter(Actor: _actor);
        var seen = new List<long>();
        for (var page = 0; page < 3; page++)
        {
            var (upTo, skip) = pager.Locate(page, 2, filtered: true);
            Assert.Equal(0, skip);
            var items = await search.PageAsync(filter, upTo, skip, 2, CancellationToken.None);
            pager.Record(page, items);
            seen.AddRange(items.Select(i => i.Seq));
        }
        Assert.Equal(_seqs.AsEnumerable().Reverse(), seen);
    }

    [Fact]
    public async Task Every_committed_append_is_announced_on_the_feed()
    {
        var seen = new List<long>();
        var feed = _portal.Get<IAuditAppendedFeed>();
        feed.Appended += seq => { lock (seen) seen.Add(seq); };
        // The listener connects in the background at start-up; wait until it hears something.
        await Poll.UntilAsync(async () =>
        {
            await _portal.Get<AuditTrail>().AppendAsync(AuditEventDraft.Create(DateTimeOffset.UtcNow, _actor, "search.ping", "feed", new { }));
            await Task.Delay(50);
            lock (seen) return seen.Count > 0;
        }, "the audit feed hears an append");

        await _portal.Get<AuditTrail>().AppendAsync(AuditEventDraft.Create(DateTimeOffset.UtcNow, _actor, "search.feed", "feed", new { }));
        var head = await _portal.HeadSeqAsync();
        await Poll.UntilAsync(() => { lock (seen) return seen.Contains(head); }, $"seq {head} announced");
    }

    [Fact]
    public async Task A_RiskOfficer_reads_events_through_the_API_but_may_not_export()
    {
        var officer = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);

        var first = await (await officer.GetAsync($"/api/audit/events?actor={_actor}&limit=4")).JsonAsync();
        var seqs = first.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(_seqs.AsEnumerable().Reverse().Take(4), seqs);
        var next = first.GetProperty("next").GetInt64();
        var second = await (await officer.GetAsync($"/api/audit/events?actor={_actor}&limit=4&before={next}")).JsonAsync();
        Assert.Equal([_seqs[1], _seqs[0]], second.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()));

        var bad = await officer.GetAsync("/api/audit/events?limit=0&before=x");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var errors = (await bad.JsonAsync()).GetProperty("errors");
        Assert.True(errors.TryGetProperty("limit", out _) && errors.TryGetProperty("before", out _));

        Assert.Equal(HttpStatusCode.Forbidden, (await officer.GetAsync("/api/audit/export?format=csv")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await officer.PostAsync("/api/audit/verify", null)).StatusCode);
    }

    [Fact]
    public async Task Compliance_exports_a_CSV_filtered_by_subject_with_the_sign_in_cookie()
    {
        var compliance = await _portal.ClientSignedInAsAsync(Roles.Compliance);

        var response = await compliance.GetAsync($"/api/audit/export?format=csv&actor={_actor}&subject=thing:0");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var rows = (await response.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Skip(1).ToList();
        Assert.Equal([_seqs[0], _seqs[3]], rows.Select(r => long.Parse(r[..r.IndexOf(',')], System.Globalization.CultureInfo.InvariantCulture)));
        var exported = (await _portal.EventsAsync(AuditApi.ExportedType)).Last();
        Assert.Equal("thing:0", exported.Payload.GetProperty("subject").GetString());
    }
}
