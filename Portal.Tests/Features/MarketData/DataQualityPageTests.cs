using Bunit;
using Bunit.TestDoubles;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Portal.Domain.MarketData;
using Portal.Features.Identity;
using Portal.Features.Live;
using Portal.Features.MarketData;
using Portal.Features.MarketData.Pages;
using MudBlazor.Services;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.MarketData;

public sealed class DataQualityPageTests : IAsyncLifetime
{
    // Composed, not inherited from ComponentTestContext: MudTable's services dispose only asynchronously,
    // and xunit 2 disposes test classes synchronously.
    private readonly BunitContext _bunit = new();
    private readonly OpsEventBus _bus = LocalOpsEventBus.Create();
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 14, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _clock = new(Now);
    private readonly FakeView _view = new();
    private readonly FakeQuarantine _quarantine = new();

    private sealed class FakeView : IMarketDataView
    {
        public List<SymbolDataView> Rows { get; set; } = [];
        public List<DataAnomaly> Anomalies { get; } = [];
        public List<RefusalMinute> Minutes { get; set; } = [];

        public IReadOnlyList<SymbolDataView> Symbols() => Rows;
        public IReadOnlyList<DataAnomaly> RecentAnomalies() => Anomalies;
        public IReadOnlyList<RefusalMinute> RefusalsByMinute(int minutes) => Minutes;
    }

    private sealed class FakeQuarantine : IQuarantineReader
    {
        public List<string?> Filters { get; } = [];

        public Task<(IReadOnlyList<QuarantineStore.QuarantineRow> Rows, int Total)> PageAsync(int page, int pageSize, string? symbol, CancellationToken ct)
        {
            Filters.Add(symbol);
            var all = Enumerable.Range(1, 60).Select(i => new QuarantineStore.QuarantineRow(
                    61 - i, Now.AddSeconds(-i), "apikey:feed", i % 2 == 0 ? "MSFT" : "AAPL", -i, null, null, 10m, Now.AddSeconds(-i), "Negative", $"price -{i} is negative"))
                .Where(r => symbol is null || r.Symbol == symbol.ToUpperInvariant()).ToList();
            return Task.FromResult<(IReadOnlyList<QuarantineStore.QuarantineRow>, int)>((all.Skip(page * pageSize).Take(pageSize).ToList(), all.Count));
        }
    }

    private sealed class FakeReset : ISymbolReset
    {
        public List<(string Symbol, string Reason, string Actor)> Calls { get; } = [];

        public Task<Dictionary<string, string[]>> ResetAsync(string symbol, string reason, string actor, CancellationToken ct)
        {
            if (string.IsNullOrWhiteSpace(reason)) return Task.FromResult(new Dictionary<string, string[]> { ["reason"] = ["is required."] });
            Calls.Add((symbol, reason, actor));
            return Task.FromResult(new Dictionary<string, string[]>());
        }
    }

    private readonly FakeReset _reset = new();
    private readonly BunitAuthorizationContext _authorization;

    public DataQualityPageTests()
    {
        _bunit.Services.AddSingleton<ISymbolReset>(_reset);
        _authorization = _bunit.AddAuthorization();
        _authorization.SetAuthorized("officer@test.local");
        _bunit.Services.AddMudServices();
        _bunit.JSInterop.Mode = JSRuntimeMode.Loose;
        _bunit.Services.AddSingleton(_bus);
        _bunit.Services.AddSingleton<TimeProvider>(_clock);
        _bunit.Services.AddSingleton<IMarketDataView>(_view);
        _bunit.Services.AddSingleton<IQuarantineReader>(_quarantine);
        _view.Rows =
        [
            new("AAPL", SymbolDataStatus.Ok, Now.AddSeconds(-3), Now.AddSeconds(-3), 228.51m, Now),
            new("MSFT", SymbolDataStatus.Suspect, Now.AddSeconds(-1), Now.AddSeconds(-90), 415.2m, Now),
            new("TSLA", SymbolDataStatus.Stale, null, null, null, Now),
        ];
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bunit.DisposeAsync();

    private IRenderedComponent<DataQualityPage> Render() => _bunit.Render<DataQualityPage>();

    [Fact]
    public void A_risk_officer_resets_a_symbol_with_a_reason_and_nobody_else_is_offered_it()
    {
        Assert.Empty(Render().FindAll(".reset-symbol"));
        _authorization.SetPolicies(Policies.RiskOfficer);
        var cut = Render();

        cut.FindAll("#symbol-status tbody tr").Single(r => r.QuerySelector(".symbol")!.TextContent == "TSLA").QuerySelector(".reset-symbol")!.Click();
        cut.Find("#confirm-reset").Click();
        cut.WaitForAssertion(() => Assert.Contains("The reason is required.", cut.Find("#symbol-reset").TextContent));
        Assert.Empty(_reset.Calls);
        cut.Find("#reset-reason").Input("reopened after a 1:10 reverse split");
        cut.Find("#confirm-reset").Click();

        cut.WaitForAssertion(() => Assert.Contains("TSLA was reset", cut.Find("#reset-done").TextContent));
        Assert.Equal(("TSLA", "reopened after a 1:10 reverse split", "officer@test.local"), _reset.Calls.Single());
        Assert.Empty(cut.FindAll("#symbol-reset"));
    }

    [Fact]
    public void Shows_each_symbol_with_its_status_last_tick_age_and_last_valid_price()
    {
        var cut = Render();

        var rows = cut.FindAll("#symbol-status tbody tr");
        Assert.Equal(3, rows.Count);
        Assert.Equal(["Ok", "Suspect", "Stale"], cut.FindAll(".data-status").Select(c => c.GetAttribute("data-status")!));
        Assert.Equal(["3 s", "90 s", "never"], cut.FindAll(".tick-age").Select(c => c.TextContent.Trim()));
        Assert.Equal(["228.51", "415.20", "—"], cut.FindAll(".last-price").Select(c => c.TextContent.Trim()));
        Assert.NotNull(cut.Find(".no-refusals"));
    }

    [Fact]
    public void A_status_change_event_re_renders_the_symbol_live()
    {
        var cut = Render();
        Assert.Equal("Ok", cut.FindAll(".data-status")[0].GetAttribute("data-status"));

        _view.Rows[0] = _view.Rows[0] with { Status = SymbolDataStatus.Stale };
        _bus.Publish(OpsEventTypes.MarketData, new StatusChange("AAPL", SymbolDataStatus.Ok, SymbolDataStatus.Stale, "no valid tick", Now));

        cut.WaitForAssertion(() => Assert.Equal("Stale", cut.FindAll(".data-status")[0].GetAttribute("data-status")));
    }

    [Fact]
    public void Refusals_by_reason_are_charted_and_anomalies_listed()
    {
        _view.Minutes =
        [
            new(Now.AddMinutes(-1), new Dictionary<TickRejectReason, int> { [TickRejectReason.PriceJump] = 3 }),
            new(Now, new Dictionary<TickRejectReason, int> { [TickRejectReason.CrossedQuote] = 1, [TickRejectReason.PriceJump] = 1 }),
        ];
        _view.Anomalies.Add(new DataAnomaly(Now, "MSFT", "CrossedQuote", "bid 400.2 is above ask 400.1", "apikey:feed"));
        _view.Anomalies.Add(new DataAnomaly(Now.AddSeconds(-5), "AAPL", "Gap", "no valid tick for longer than 5 seconds", "demo"));

        var cut = Render();

        Assert.Empty(cut.FindAll(".no-refusals"));
        Assert.NotNull(cut.Find("#refusal-chart .mud-chart"));
        Assert.Contains("CrossedQuote", cut.Find("#refusal-chart").TextContent);
        Assert.Contains("PriceJump", cut.Find("#refusal-chart").TextContent);
        Assert.Equal(["CrossedQuote", "Gap"], cut.FindAll(".anomaly-kind").Select(c => c.TextContent.Trim()));
        Assert.Equal(Portal.Components.Shared.Formats.UtcPrecise(Now), cut.Find("td[data-label='Time']").TextContent.Trim());
        Assert.EndsWith(" UTC", cut.Find("td[data-label='Time']").TextContent.Trim());
    }

    [Fact]
    public void The_quarantine_browser_pages_on_the_server_and_filters_by_symbol()
    {
        var cut = Render();

        cut.WaitForAssertion(() => Assert.Equal(25, cut.FindAll("#quarantine tbody tr").Count));
        Assert.Contains("1-25 of 60", cut.Find("#quarantine").TextContent);
        Assert.Matches(@"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", cut.Find("#quarantine td[data-label='Received']").TextContent);
        Assert.Matches(@"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} UTC", cut.Find("#quarantine td[data-label='Tick time']").TextContent);

        cut.Find(".quarantine-filter input").Change("msft");

        cut.WaitForAssertion(() => Assert.Contains("1-25 of 30", cut.Find("#quarantine").TextContent));
        Assert.Equal("msft", _quarantine.Filters[^1]);
        Assert.All(cut.FindAll("#quarantine tbody tr"), row => Assert.Contains("MSFT", row.TextContent));
    }
}
