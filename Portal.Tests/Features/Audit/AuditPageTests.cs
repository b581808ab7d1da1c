using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using Portal.Features.Audit;
using Portal.Features.Audit.Pages;
using Portal.Features.Identity;
using MudBlazor.Services;

namespace Portal.Tests.Features.Audit;

/// <summary>The audit page's logic with bUnit: filters become queries, keyset pages, the detail, live "new events", verification.</summary>
public sealed class AuditPageTests : IAsyncLifetime
{
    // Composed, not inherited: MudBlazor's popover and dialog services dispose only asynchronously, and xunit 2 disposes test classes synchronously.
    private readonly BunitContext _bunit = new();
    private readonly FakeSearch _search = new(head: 60);
    private readonly FakeFeed _feed = new();
    private readonly FakeVerifier _verifier = new();

    public AuditPageTests()
    {
        _bunit.Services.AddMudServices();
        _bunit.JSInterop.Mode = JSRuntimeMode.Loose;
        _bunit.Services.AddSingleton<IAuditSearch>(_search);
        _bunit.Services.AddSingleton<IAuditAppendedFeed>(_feed);
        _bunit.Services.AddSingleton<IAuditChainVerifier>(_verifier);
    }

    /// <summary>Where the event detail dialog renders.</summary>
    private IRenderedComponent<MudDialogProvider> _dialogs = null!;

    private IRenderedComponent<AuditPage> RenderPage(params string[] policies)
    {
        _bunit.AddAuthorization().SetAuthorized("compliance@test.local").SetPolicies(policies);
        _bunit.Render<MudPopoverProvider>();
        _dialogs = _bunit.Render<MudDialogProvider>();
        var cut = _bunit.Render<AuditPage>();
        cut.WaitForAssertion(() => Assert.Equal(25, cut.FindAll("tr.audit-row").Count));
        return cut;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bunit.DisposeAsync();

    [Fact]
    public void The_first_page_is_the_newest_events_read_by_seq_from_the_head()
    {
        var cut = RenderPage(Policies.AuditReader);

        var query = _search.Pages[^1];
        Assert.Equal((AuditFilter.None, 60L, 0, 25), (query.Filter, query.UpTo, query.Skip, query.Take));
        Assert.StartsWith("60", cut.FindAll("tr.audit-row")[0].TextContent);
    }

    [Fact]
    public void The_regulator_zip_link_asks_for_the_bundle_of_the_chain()
    {
        var cut = RenderPage(Policies.AuditReader, Policies.Compliance);

        Assert.Equal("/api/audit/export/bundle?format=jsonl", cut.Find("#export-bundle").GetAttribute("href"));
    }

    [Fact]
    public void Actor_and_subject_filters_become_exact_conditions_of_the_query()
    {
        var cut = RenderPage(Policies.AuditReader);

        cut.Find("input#filter-actor").Change("alice@test.local");
        cut.WaitForAssertion(() => Assert.Equal("alice@test.local", _search.Pages[^1].Filter.Actor));
        cut.Find("input#filter-subject").Change("  order:abc-1 ");
        cut.WaitForAssertion(() => Assert.Equal("order:abc-1", _search.Pages[^1].Filter.Subject));

        var last = _search.Pages[^1];
        Assert.Equal("alice@test.local", last.Filter.Actor);
        Assert.Equal(0, last.Skip);
        Assert.Equal(" and actor = $4 and subject = $5", last.Filter.ToSql(4).Sql);
        Assert.Contains(_search.Counts, c => c.Filter == last.Filter);
    }

    [Fact]
    public void A_time_range_is_read_as_UTC()
    {
        var cut = RenderPage(Policies.AuditReader);

        Assert.Contains("From (UTC, yyyy-MM-dd HH:mm)", cut.Find("#audit-filters").TextContent);
        Assert.Equal("text", cut.Find("input#filter-from").GetAttribute("type"));

        cut.Find("input#filter-from").Change("2026-03-01 09:30");
        cut.WaitForAssertion(() => Assert.Equal(new DateTimeOffset(2026, 3, 1, 9, 30, 0, TimeSpan.Zero), _search.Pages[^1].Filter.From));
        Assert.Equal("/api/audit/export?format=csv&from=2026-03-01T09%3A30%3A00Z", AuditPage.ExportUrl(AuditExportFormatKind.Csv, _search.Pages[^1].Filter));
    }

    [Fact]
    public void A_time_not_typed_as_24_hour_ISO_is_an_error_on_the_field_and_filters_nothing()
    {
        var cut = RenderPage(Policies.AuditReader);
        var queries = _search.Pages.Count;

        cut.Find("input#filter-to").Change("03/01/2026 9:30 PM");

        cut.WaitForAssertion(() => Assert.Contains("Type a UTC time as yyyy-MM-dd HH:mm (24-hour)", cut.Find("#audit-filters").TextContent));
        Assert.Equal(queries, _search.Pages.Count);
        Assert.Null(_search.Pages[^1].Filter.To);

        cut.Find("input#filter-to").Change("2026-03-01 21:30");
        cut.WaitForAssertion(() => Assert.Equal(new DateTimeOffset(2026, 3, 1, 21, 30, 0, TimeSpan.Zero), _search.Pages[^1].Filter.To));
        Assert.DoesNotContain("Type a UTC time", cut.Find("#audit-filters").TextContent);
    }

    [Fact]
    public void Each_row_shows_its_time_with_the_zone()
    {
        var cut = RenderPage(Policies.AuditReader);

        Assert.Matches(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$", cut.FindAll("tr.audit-row")[0].QuerySelectorAll("td")[1].TextContent.Trim());
    }

    [Fact]
    public void Clicking_a_row_shows_the_event_with_its_payload_and_hashes()
    {
        var cut = RenderPage(Policies.AuditReader);

        cut.FindAll("tr.audit-row")[2].Click();

        var detail = _dialogs.WaitForElement(".audit-event");
        Assert.Equal("58", detail.GetAttribute("data-seq"));
        Assert.Contains("\"limit\": \"5000\"", _dialogs.Find(".audit-payload").TextContent);
        Assert.Equal(FakeSearch.HashOf(57), _dialogs.Find(".audit-prev-hash").TextContent);
        Assert.Equal(FakeSearch.HashOf(58), _dialogs.Find(".audit-this-hash").TextContent);
    }

    [Fact]
    public void New_events_are_announced_without_moving_the_list_and_shown_on_request()
    {
        var cut = RenderPage(Policies.AuditReader);
        var queries = _search.Pages.Count;

        _search.Head = 63;
        _feed.Raise(63);

        cut.WaitForAssertion(() => Assert.Contains("3 new events", cut.Find("#new-events").TextContent));
        Assert.Equal(queries, _search.Pages.Count);
        cut.Find("#show-new-events").Click();
        cut.WaitForAssertion(() => Assert.Equal(63L, _search.Pages[^1].UpTo));
        Assert.Empty(cut.FindAll("#new-events"));
    }

    [Fact]
    public void Verification_and_export_are_offered_only_to_compliance()
    {
        var cut = RenderPage(Policies.AuditReader);

        Assert.Empty(cut.FindAll("#verify-chain"));
        Assert.Empty(cut.FindAll("#export-csv"));
    }

    [Fact]
    public void Verify_chain_reports_its_result_and_who_asked()
    {
        var cut = RenderPage(Policies.AuditReader, Policies.Compliance);

        cut.Find("#verify-chain").Click();

        cut.WaitForAssertion(() => Assert.Equal("true", cut.Find("#verify-result").GetAttribute("data-ok")));
        Assert.Contains("60 events", cut.Find("#verify-result").TextContent);
        Assert.Equal((AuditVerificationMode.Incremental, "compliance@test.local"), _verifier.Runs.Single());
    }

    [Fact]
    public void Unfiltered_pages_are_computed_from_the_anchor_and_filtered_pages_continue_from_the_last_seq_seen()
    {
        var pager = new AuditPager();
        pager.Reset(1_000_000);

        Assert.Equal((999_950L, 0), pager.Locate(2, 25, filtered: false));
        Assert.Equal((1_000_000L, 0), pager.Locate(0, 25, filtered: true));
        pager.Record(0, [new AuditListItem(999_990, default, "", "", ""), new AuditListItem(999_700, default, "", "", "")]);
        Assert.Equal((999_699L, 0), pager.Locate(1, 25, filtered: true));
        Assert.Equal((999_699L, 50), pager.Locate(3, 25, filtered: true));
        Assert.Equal((1_000_000L, 50), pager.Locate(1, 50, filtered: true));
    }

    private sealed class FakeSearch(long head) : IAuditSearch
    {
        public long Head { get; set; } = head;
        public List<(AuditFilter Filter, long UpTo, int Skip, int Take)> Pages { get; } = [];
        public List<(AuditFilter Filter, long UpTo)> Counts { get; } = [];

        public static string HashOf(long seq) => seq.ToString("x64");

        public Task<long> HeadSeqAsync(CancellationToken ct) => Task.FromResult(Head);

        public Task<long> CountAsync(AuditFilter filter, long upTo, int cap, CancellationToken ct)
        {
            Counts.Add((filter, upTo));
            return Task.FromResult(upTo);
        }

        public Task<IReadOnlyList<AuditListItem>> PageAsync(AuditFilter filter, long upTo, int skip, int take, CancellationToken ct)
        {
            Pages.Add((filter, upTo, skip, take));
            IReadOnlyList<AuditListItem> items = Enumerable.Range(0, take).Select(i => upTo - skip - i).Where(s => s > 0)
                .Select(s => new AuditListItem(s, DateTimeOffset.UnixEpoch.AddSeconds(s), "alice@test.local", "limits.proposed", "limits")).ToList();
            return Task.FromResult(items);
        }

        public Task<AuditEventDetail?> FindAsync(long seq, CancellationToken ct) => Task.FromResult<AuditEventDetail?>(
            new AuditEventDetail(seq, DateTimeOffset.UnixEpoch.AddSeconds(seq), "alice@test.local", "limits.proposed", "limits",
                "{\n    \"limit\": \"5000\"\n}", HashOf(seq - 1), HashOf(seq), 1));

        public Task<IReadOnlyList<string>> TypesAsync(CancellationToken ct) => Task.FromResult<IReadOnlyList<string>>(["limits.proposed", "order.decided"]);
    }

    private sealed class FakeFeed : IAuditAppendedFeed
    {
        public event Action<long>? Appended;

        public void Raise(long seq) => Appended?.Invoke(seq);
    }

    private sealed class FakeVerifier : IAuditChainVerifier
    {
        public List<(AuditVerificationMode, string)> Runs { get; } = [];

        public Task<AuditVerificationReport> RunAsync(AuditVerificationMode mode, string actor, CancellationToken ct, IProgress<AuditVerificationProgress>? progress = null)
        {
            Runs.Add((mode, actor));
            progress?.Report(new AuditVerificationProgress(60, 60));
            return Task.FromResult(new AuditVerificationReport("incremental", true, 0, 60, 60, null, null, 2, 40, 0.01));
        }
    }
}
