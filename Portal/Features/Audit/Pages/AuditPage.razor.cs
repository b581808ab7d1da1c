using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.JSInterop;
using MudBlazor;
using Portal.Components.Shared;
using Portal.Features.Limits;

namespace Portal.Features.Audit.Pages;

public sealed partial class AuditPage : IAsyncDisposable
{
    /// <summary>Filtered counts stop here: counting every match of a broad filter over millions of events costs a scan.</summary>
    public const int CountCap = 10_000;

    private static readonly TimeSpan ProgressEvery = TimeSpan.FromMilliseconds(100);

    private readonly AuditPager _pager = new();
    private readonly DialogOptions _detailOptions = new() { MaxWidth = MaxWidth.Medium, FullWidth = true, CloseButton = true };
    private MudDataGrid<AuditListItem> _grid = null!;
    private Task _ready = Task.CompletedTask;
    private AuditFilter _filter = AuditFilter.None;
    private string? _fromText, _toText, _fromError, _toError;
    private IReadOnlyList<string> _types = [];
    private long _newestSeen;
    private long? _total;
    private bool _totalCapped;
    private AuditEventDetail? _detail;
    private bool _detailOpen;

    private AuditVerificationMode _verifyMode = AuditVerificationMode.Incremental;
    private bool _verifying;
    private AuditVerificationProgress? _verifyProgress;
    private AuditVerificationReport? _verification;

    private bool _exporting;
    private long _exportedLines, _exportExpected;
    private string? _exportResult;
    private IJSObjectReference? _exportModule;
    private DotNetObjectReference<AuditPage>? _self;

    [Inject] private IAuditSearch Search { get; set; } = null!;
    [Inject] private IAuditAppendedFeed Feed { get; set; } = null!;
    [Inject] private IAuditChainVerifier Verifier { get; set; } = null!;
    [Inject] private IJSRuntime JS { get; set; } = null!;
    [Inject] private AuthenticationStateProvider Authentication { get; set; } = null!;
    [Inject] private ILogger<AuditPage> Logger { get; set; } = null!;

    /// <summary>Opens the trail filtered to one subject, e.g. "global" from the trading state banner's link.</summary>
    [SupplyParameterFromQuery(Name = "subject")] public string? SubjectQuery { get; set; }

    protected override void OnInitialized()
    {
        if (!string.IsNullOrWhiteSpace(SubjectQuery)) _filter = AuditFilter.None with { Subject = SubjectQuery };
        Feed.Appended += OnAppended;
        _ready = LoadHeadAndTypesAsync();
    }

    private async Task LoadHeadAndTypesAsync()
    {
        var head = await Search.HeadSeqAsync(CancellationToken.None);
        _pager.Reset(head);
        _newestSeen = Math.Max(_newestSeen, head);
        _types = await Search.TypesAsync(CancellationToken.None);
    }

    private void OnAppended(long seq) => _ = InvokeAsync(() =>
    {
        if (seq <= _newestSeen) return;
        _newestSeen = seq;
        StateHasChanged();
    });

    private async Task<GridData<AuditListItem>> LoadAsync(GridState<AuditListItem> state, CancellationToken ct)
    {
        await _ready;
        var filter = _filter.Normalized();
        var (upTo, skip) = _pager.Locate(state.Page, state.PageSize, !filter.IsEmpty);
        var items = await Search.PageAsync(filter, upTo, skip, state.PageSize, ct);
        _pager.Record(state.Page, items);
        if (_total is null)
        {
            var count = await Search.CountAsync(filter, _pager.Anchor, CountCap, ct);
            _totalCapped = count > CountCap;
            _total = count;
        }
        return new GridData<AuditListItem> { Items = items, TotalItems = (int)Math.Min(_total.Value, int.MaxValue) };
    }

    /// <summary>
    /// A typed From or To, 24-hour "yyyy-MM-dd HH:mm" in UTC (one format whatever the browser's locale, unlike its
    /// datetime picker). Empty clears that end; anything else that does not parse is shown as the field's error and
    /// leaves the filter as it was.
    /// </summary>
    private async Task TimeFilterAsync(string? text, bool isFrom)
    {
        DateTimeOffset? time = null;
        string? error = null;
        if (!string.IsNullOrWhiteSpace(text))
        {
            if (Formats.TryParseUtcInput(text, out var parsed)) time = parsed;
            else error = Formats.UtcInputError;
        }
        if (isFrom) (_fromText, _fromError) = (text, error);
        else (_toText, _toError) = (text, error);
        if (error is not null) return;
        await ApplyAsync(isFrom ? _filter with { From = time } : _filter with { To = time });
    }

    private async Task ApplyAsync(AuditFilter filter)
    {
        _filter = filter;
        await RefreshAsync();
    }

    /// <summary>Re-anchors the list at the newest event and shows its first page.</summary>
    private async Task RefreshAsync()
    {
        await _ready;
        _pager.Reset(Math.Max(_newestSeen, await Search.HeadSeqAsync(CancellationToken.None)));
        _newestSeen = _pager.Anchor;
        _total = null;
        _grid.NavigateTo(Page.First);
        await _grid.ReloadServerData();
    }

    private async Task OpenAsync(AuditListItem item)
    {
        _detail = await Search.FindAsync(item.Seq, CancellationToken.None);
        _detailOpen = _detail is not null;
    }

    private async Task VerifyAsync()
    {
        _verifying = true;
        _verification = null;
        _verifyProgress = null;
        var actor = LimitsApi.Actor((await Authentication.GetAuthenticationStateAsync()).User);
        var lastRender = Stopwatch.GetTimestamp();
        var progress = new InlineProgress<AuditVerificationProgress>(p =>
        {
            _verifyProgress = p;
            if (Stopwatch.GetElapsedTime(lastRender) < ProgressEvery) return;
            lastRender = Stopwatch.GetTimestamp();
            _ = InvokeAsync(StateHasChanged);
        });
        try
        {
            // Off the circuit's dispatcher: hashing a long chain would otherwise freeze this page until it is done.
            _verification = await Task.Run(() => Verifier.RunAsync(_verifyMode, actor, CancellationToken.None, progress));
        }
        catch (Exception ex)
        {
            Logger.LogError(ex, "Audit verification from the audit page failed to run");
            _verification = new AuditVerificationReport(_verifyMode.ToString().ToLowerInvariant(), false, 0, 0, 0, null,
                "the verification could not run: " + ex.Message, 0, null, 0);
        }
        finally
        {
            _verifying = false;
        }
    }

    private async Task ExportAsync(AuditExportFormatKind format)
    {
        _exporting = true;
        _exportResult = null;
        _exportedLines = 0;
        StateHasChanged();
        try
        {
            var filter = _filter.Normalized();
            var counted = format == AuditExportFormatKind.Csv ? filter : new AuditFilter(filter.From, filter.To);
            var head = await Search.HeadSeqAsync(CancellationToken.None);
            _exportExpected = await Search.CountAsync(counted, head, int.MaxValue - 1, CancellationToken.None)
                              + (format == AuditExportFormatKind.Csv ? 1 : 0);
            _self ??= DotNetObjectReference.Create(this);
            _exportModule ??= await JS.InvokeAsync<IJSObjectReference>("import", "./js/audit-export.js");
            var url = ExportUrl(format, filter);
            var fallbackName = format == AuditExportFormatKind.Csv ? "audit.csv" : "audit.jsonl";
            var download = await _exportModule.InvokeAsync<ExportDownload>("download", url, fallbackName, _self);
            _exportResult = $"Saved {download.FileName}: {Rows(download.Lines, format)} ({download.Bytes:N0} bytes).";
            if (format == AuditExportFormatKind.Jsonl && download.From is { } from && download.To is { } to)
            {
                var manifest = await _exportModule.InvokeAsync<ExportDownload>("download",
                    $"/api/audit/export/manifest?from={Uri.EscapeDataString(from)}&to={Uri.EscapeDataString(to)}", download.FileName + ".manifest", null);
                _exportResult += $" Manifest: {manifest.FileName}.";
            }
        }
        catch (JSException ex)
        {
            _exportResult = "Export failed: " + ex.Message;
        }
        finally
        {
            _exporting = false;
        }
    }

    [JSInvokable]
    public Task OnExportProgress(long lines, long bytes)
    {
        _exportedLines = lines;
        return InvokeAsync(StateHasChanged);
    }

    /// <summary>The API request for this export: CSV carries every filter; JSONL only the time range.</summary>
    /// <summary>The printable report of every filter on the page (<see cref="AuditReport"/>).</summary>
    private string ReportUrl => AuditReport.Path + "?" + ExportUrl(AuditExportFormatKind.Csv, _filter.Normalized()).Split('?', 2)[1].Replace("format=csv&", "", StringComparison.Ordinal).Replace("format=csv", "", StringComparison.Ordinal);

    private string BundleUrl => "/api/audit/export/bundle?" + ExportUrl(AuditExportFormatKind.Jsonl, _filter.Normalized()).Split('?', 2)[1];

    public static string ExportUrl(AuditExportFormatKind format, AuditFilter filter)
    {
        var query = new List<string> { "format=" + (format == AuditExportFormatKind.Csv ? "csv" : "jsonl") };
        if (filter.From is { } from) query.Add("from=" + Uri.EscapeDataString(from.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)));
        if (filter.To is { } to) query.Add("to=" + Uri.EscapeDataString(to.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)));
        if (format == AuditExportFormatKind.Csv)
        {
            if (filter.Types is { Count: > 0 } types) query.Add("types=" + Uri.EscapeDataString(string.Join(",", types)));
            if (filter.Actor is { } actor) query.Add("actor=" + Uri.EscapeDataString(actor));
            if (filter.Subject is { } subject) query.Add("subject=" + Uri.EscapeDataString(subject));
        }
        return "/api/audit/export?" + string.Join("&", query);
    }

    private string ExportStatus => _exporting
        ? $"Exporting: {_exportedLines:N0} of {_exportExpected:N0} lines"
        : _exportResult ?? "";

    private static string Rows(long lines, AuditExportFormatKind format) =>
        format == AuditExportFormatKind.Csv ? $"{Math.Max(lines - 1, 0):N0} events" : $"{lines:N0} events";

    private static double Percent(long done, long total) => total <= 0 ? 0 : Math.Min(100d, 100d * done / total);

    /// <summary>The pickers show UTC wall-clock times: the value is taken as UTC, not as the server's local time.</summary>
    public async ValueTask DisposeAsync()
    {
        Feed.Appended -= OnAppended;
        _self?.Dispose();
        if (_exportModule is not null)
        {
            try
            {
                await _exportModule.DisposeAsync();
            }
            catch (JSDisconnectedException)
            {
                // The browser is gone; nothing left to release.
            }
        }
    }

    private sealed record ExportDownload(long Lines, long Bytes, string FileName, string? From, string? To);

    /// <summary>Reports on the reporting thread (Progress&lt;T&gt; would post every report to the circuit).</summary>
    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
