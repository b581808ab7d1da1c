using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Portal.Domain.Trading;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Features.Observability;
using Portal.Features.Readiness;
using Portal.Infrastructure;
using Portal.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Portal.Tests.Features.Readiness;

/// <summary>Each drill against a Portal on real Postgres and Redis, with its stored and audited evidence.</summary>
public sealed class DrillTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string ScrapeToken = "drill-tests-scrape-token-0123456789abcdef";

    private PortalFactory _portal = null!;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync(new Dictionary<string, string?>
        {
            ["Readiness:DocsPath"] = ReadinessTestKit.DocsWithAllRunbooks(),
            ["Metrics:ScrapeToken"] = ScrapeToken,
        });
        _portal.SetPrice("AAPL", 100m);
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task A_million_dollar_order_is_refused_with_MaxOrderValue_and_counted_as_a_drill()
    {
        var drillBreaches = PortalMetrics.RiskBreaches.WithLabels("MaxOrderValue", PortalMetrics.DrillSource).Value;

        var run = await _portal.RunAsync(Drills.MillionOrder);

        Assert.True(run.Ok, run.Summary);
        Assert.Equal("refused: MaxOrderValue", run.Figures["answer"]);
        // Labelled so that paging rules leave it out (deploy/prometheus/alerts.yml).
        Assert.True(PortalMetrics.RiskBreaches.WithLabels("MaxOrderValue", PortalMetrics.DrillSource).Value > drillBreaches);
        await _portal.AssertStoredAndAuditedAsync(run);
        var item = (await _portal.Get<Checklist>().ComputeAsync(CancellationToken.None)).Items.Single(i => i.Key == "million-order");
        Assert.Equal(ItemStatus.Green, item.Status);
        Assert.Equal(run.Id, item.Evidence!.Id);
    }

    [Fact]
    public async Task Every_limit_type_refuses_a_breaching_order_with_its_own_reason()
    {
        var run = await _portal.RunAsync(Drills.Limits);

        Assert.True(run.Ok, run.Summary);
        Assert.Equal("15", run.Figures["limitTypesChecked"]);
        foreach (var reason in new[] { "MaxOrderQuantity", "MaxOrderValue", "PriceCollar", "MaxPositionSize", "MaxPositionPctPortfolio", "MaxTotalExposure",
                     "MaxLeverage", "MaxOpenPositions", "MaxDailyLoss", "MaxWeeklyLoss", "MaxDrawdown", "MaxOrdersPerMinute", "MaxOrdersPerMinuteGlobal",
                     "MaxOrdersPerDay", "MaxOrdersPerDayGlobal" })
            Assert.StartsWith(reason + " (", run.Figures[reason]);
        await _portal.AssertStoredAndAuditedAsync(run);
    }

    [Fact]
    public async Task A_burst_of_100_orders_gets_exactly_the_allowance_and_leaves_the_real_strategies_allowance_alone()
    {
        var run = await _portal.RunAsync(Drills.RateBurst);
        output.WriteLine(string.Join(", ", run.Figures.Select(f => $"{f.Key}={f.Value}")));

        Assert.True(run.Ok, run.Summary);
        Assert.Equal("100", run.Figures["sent"]);
        Assert.Equal("5", run.Figures["expectedAccepted"]);
        Assert.Equal("5", run.Figures["accepted"]);
        Assert.Equal("95", run.Figures["refusedByRateLimit"]);
        Assert.Equal("5", run.Figures["cancelledAfter"]);
        await _portal.AssertStoredAndAuditedAsync(run);

        // The drill counted in its own global counters: a real strategy still has its whole global allowance.
        var orders = await _portal.ClientWithScopesAsync(Scopes.Orders);
        for (var i = 0; i < 5; i++)
            Assert.Equal(HttpStatusCode.Created, (await orders.PostOrderAsync(OrderRequests.Market($"after-burst-{i}", 1m))).StatusCode);
        // The burst's orders were cancelled, not left working.
        Assert.Equal(0, await OrderRequests.ScalarAsync(_portal.AppConnectionString,
            "select count(*) from orders where strategy_id = 'drill' and status in ('new', 'partially_filled', 'pending_submit')"));
    }

    [Fact]
    public async Task A_manual_stop_halts_only_the_drill_strategy_in_under_a_second_then_resumes_it()
    {
        var run = await _portal.RunAsync(Drills.ManualStop);
        output.WriteLine(string.Join(", ", run.Figures.Select(f => $"{f.Key}={f.Value}")));

        Assert.True(run.Ok, run.Summary);
        Assert.True(double.Parse(run.Figures["refusedAfterMs"], System.Globalization.CultureInfo.InvariantCulture) < 1000, run.Figures["refusedAfterMs"]);
        var state = _portal.Get<TradingStateStore>();
        Assert.Equal(TradingMode.Active, state.Get(TradingScopes.Global).Mode);
        Assert.Equal(TradingMode.Active, state.ModeFor(ReadinessDrills.DrillStrategy));
        Assert.Equal("200 OK", run.Figures["answer"]);
        // Through the halt endpoint, with an API key made for the run and revoked when it ended.
        var halted = Assert.Single(await _portal.AuditEventsAsync("trading.halted"),
            e => e.GetProperty("payload").GetProperty("reason").GetString()!.Contains("manual stop", StringComparison.Ordinal));
        Assert.StartsWith("apikey:", halted.GetProperty("actor").GetString());
        var key = Assert.Single(await _portal.Get<ApiKeyService>().ListAsync(CancellationToken.None), k => k.Name.StartsWith(ReadinessDrills.DrillKeyPrefix, StringComparison.Ordinal));
        Assert.Equal([Scopes.Halt], key.Scopes);
        Assert.NotNull(key.RevokedAt);
        // Had this instance died before revoking it, the key would still stop working within minutes.
        Assert.InRange(key.ExpiresAt!.Value - key.CreatedAt, TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(3));
        await _portal.AssertStoredAndAuditedAsync(run);
    }

    [Fact]
    public async Task Redis_unreachable_refuses_orders_in_safe_mode_and_recovers()
    {
        var failures = 0;
        _portal.Get<IConnectionMultiplexer>().ConnectionFailed += (_, _) => Interlocked.Increment(ref failures);

        var run = await _portal.RunAsync(Drills.RedisLoss);
        output.WriteLine(string.Join(", ", run.Figures.Select(f => $"{f.Key}={f.Value}")));

        Assert.True(run.Ok, run.Summary);
        Assert.Equal("refused: SafeMode: redis-unreachable", run.Figures["refusedWith"]);
        Assert.Equal("refused: PriceCollar", run.Figures["afterRecovery"]);
        Assert.Equal("redis", run.Figures["connectionCut"]);
        Assert.False(_portal.Services.GetRequiredKeyedService<ConnectionCut>(ConnectionCut.Redis).IsCut);
        // The real connection was lost and made again, not a flag consulted by the adapters.
        Assert.True(failures > 0, "the Redis client never saw its connection fail");
        Assert.True(_portal.Get<IConnectionMultiplexer>().IsConnected);
        await _portal.AssertStoredAndAuditedAsync(run);
    }

    [Fact]
    public async Task Network_loss_to_the_broker_refuses_orders_in_safe_mode_and_recovers()
    {
        var running = _portal.RunAsync(Drills.BrokerLoss);
        // While it runs /metrics says so, and the safe-mode alert leaves this instance out (deploy/prometheus/alerts.yml).
        using var scraper = _portal.CreateClient();
        scraper.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ScrapeToken);
        await Poll.UntilAsync(async () => (await scraper.GetStringAsync("/metrics")).Contains("\nportal_readiness_drill_running 1\n", StringComparison.Ordinal),
            "portal_readiness_drill_running is 1 during the drill");
        var run = await running;
        output.WriteLine(string.Join(", ", run.Figures.Select(f => $"{f.Key}={f.Value}")));

        Assert.True(run.Ok, run.Summary);
        Assert.Equal("refused: SafeMode: broker-silent", run.Figures["refusedWith"]);
        Assert.Equal("refused: PriceCollar", run.Figures["afterRecovery"]);
        Assert.Equal("broker (paper)", run.Figures["connectionCut"]);
        Assert.False(_portal.Services.GetRequiredKeyedService<ConnectionCut>(ConnectionCut.Broker).IsCut);
        await _portal.AssertStoredAndAuditedAsync(run);
    }

    [Fact]
    public async Task Every_change_to_the_audit_trail_is_refused_and_the_chain_verifies()
    {
        var run = await _portal.RunAsync(Drills.AuditImmutable);

        Assert.True(run.Ok, run.Summary);
        // 42501 insufficient privilege (no UPDATE/DELETE/TRUNCATE grant), 42501 for ALTER TABLE by a non-owner too.
        foreach (var attempt in new[] { "update", "delete", "truncate", "disableTrigger" })
            Assert.StartsWith("42501: ", run.Figures[attempt]);
        Assert.Contains("audit", run.Figures["moveHeadBack"]);
        Assert.StartsWith("ok, ", run.Figures["chainVerified"]);
        await _portal.AssertStoredAndAuditedAsync(run);
    }

    [Fact]
    public async Task Bad_ticks_are_refused_by_their_rule_and_counted()
    {
        var run = await _portal.RunAsync(Drills.BadTicks);

        Assert.True(run.Ok, run.Summary);
        Assert.Equal("PriceJump, counted 1", run.Figures["PriceJump"]);
        Assert.Equal("Stale, counted 1", run.Figures["Stale"]);
        await _portal.AssertStoredAndAuditedAsync(run);
    }

    [Fact]
    public async Task The_metrics_drill_passes_exactly_when_metrics_serves_every_required_series()
    {
        var run = await _portal.RunAsync(Drills.Metrics);

        using var scraper = _portal.CreateClient();
        scraper.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ScrapeToken);
        var scraped = await scraper.GetStringAsync("/metrics");
        var missing = ReadinessDrills.RequiredSeries.Where(name => !scraped.Contains($"# TYPE {name} ", StringComparison.Ordinal)).ToList();
        Assert.Equal(missing.Count == 0, run.Ok);
        foreach (var name in ReadinessDrills.RequiredSeries) Assert.Equal(missing.Contains(name), run.Figures[name] == "missing");
        await _portal.AssertStoredAndAuditedAsync(run);
    }

    [Fact]
    public async Task The_scheduled_job_runs_every_drill_and_the_checklist_shows_each_result_with_its_audit_record()
    {
        await _portal.Get<Portal.Jobs.Readiness.ReadinessDrillJob>().RunAsync(CancellationToken.None);

        var checklist = await _portal.Get<Checklist>().ComputeAsync(CancellationToken.None);
        foreach (var item in checklist.Items.Where(i => i.Drill is not null))
        {
            Assert.Equal("job:readiness-drills", item.Evidence!.Actor);
            Assert.True(item.Evidence.AuditSeq > 0);
            Assert.Equal(item.Evidence.Ok ? ItemStatus.Green : ItemStatus.Red, item.Status);
        }
        // Everything this branch has the prerequisites for is green; the metrics item waits for the data_* and model_* series.
        Assert.All(checklist.Items.Where(i => i.Key != "metrics"), item => Assert.True(item.Status == ItemStatus.Green, $"{item.Title}: {item.Detail}"));
    }
}
