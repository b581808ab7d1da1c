using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Npgsql;
using Portal.Domain.Broker;
using Portal.Domain.MarketData;
using Portal.Domain.Orders;
using Portal.Domain.Risk;
using Portal.Domain.Trading;
using Portal.Features.Audit;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Features.Limits;
using Portal.Features.Market;
using Portal.Features.MarketData;
using Portal.Features.Observability;
using Portal.Features.Orders;
using Portal.Features.Risk;
using Portal.Infrastructure;
using Portal.Infrastructure.Redis;
using Microsoft.Extensions.Options;

namespace Portal.Features.Readiness;

/// <summary>
/// The drills, run against this running instance through its real order path, kill switch, safe mode and audit
/// trail. Every order is sent as the drill strategy (<see cref="DrillStrategy"/>), never as a real one:
/// <list type="bullet">
/// <item>its rate counters are its own, global ones included (see <see cref="RateCounter"/>), so a burst neither uses
/// up the real strategies' allowance nor is distorted by theirs;</item>
/// <item>orders meant to be refused are sell limits far above the market, built so that if the limit under test did
/// not refuse them, the price collar (or the limit checks after it) still would: a broken limit fails the drill
/// without anything reaching the broker;</item>
/// <item>the only orders meant to be accepted (the rate burst) are one-share sell limits resting above the market,
/// cancelled as soon as the burst is counted; the burst runs only on a simulated account (the paper broker or Alpaca's
/// paper endpoint), never where real money trades;</item>
/// <item>a breach by the drill strategy never auto-halts it (that would page people for a drill), and its halt in
/// the manual-stop drill is lifted at once without four-eyes (it holds no positions).</item>
/// </list>
/// Limits that only an account state can breach (position, exposure, leverage, open positions, losses, drawdown,
/// rates) are checked by the same pre-trade check against the limits in force and a breached account built for
/// the check: breaching them for real would take real positions and losses.
/// </summary>
public sealed class ReadinessDrills(
    OrderGateway gateway, LimitStore limits, DeploymentPhaseStore phases, RiskBook risk, PriceBook prices, SymbolCatalog symbols, RateCounter rates,
    IBroker broker, KillSwitch killSwitch, TradingStateStore tradingState, SafeModeMonitor safeMode,
    [FromKeyedServices(ConnectionCut.Redis)] ConnectionCut redisConnection, [FromKeyedServices(ConnectionCut.Broker)] ConnectionCut brokerConnection,
    NpgsqlDataSource db, AuditVerification auditVerification, MarketDataIngest marketData, IHttpClientFactory httpFactory, ApiKeyService apiKeys,
    IOptions<ReadinessOptions> options, IOptions<HaltOptions> haltOptions, IOptions<MetricsOptions> metricsOptions, TimeProvider clock)
{
    public const string DrillStrategy = RateCounter.DrillStrategyId;

    /// <summary>The seed's series that /metrics must expose; the data_* and model_* ones come with market data and drift.</summary>
    public static readonly IReadOnlyList<string> RequiredSeries =
    [
        "trading_orders_total", "trading_orders_rejected", "trading_risk_breaches", "trading_kill_switch",
        "data_validation_failures", "data_staleness_seconds", "model_drift_score", "model_prediction_confidence",
    ];

    /// <summary>The name of the halt drill's own API key, followed by the run's id.</summary>
    public const string DrillKeyPrefix = "readiness-drill-";
    private const string HaltPath = "/api/emergency/stop";
    /// <summary>How long the halt drill's key outlives the drill's own time limit, for a slow start on a busy machine.</summary>
    private static readonly TimeSpan DrillKeyMargin = TimeSpan.FromMinutes(2);
    private const int BurstSize = 100;
    private const decimal MillionUsd = 1_000_000m;

    public Task<DrillOutcome> RunAsync(string drill, string actor, CancellationToken ct)
    {
        var run = new DrillContext(actor, $"drill-{Guid.NewGuid():N}"[..22]);
        return drill switch
        {
            Drills.MillionOrder => MillionOrderAsync(run, ct),
            Drills.Limits => LimitsAsync(run, ct),
            Drills.RateBurst => RateBurstAsync(run, ct),
            Drills.ManualStop => ManualStopAsync(run, ct),
            Drills.RedisLoss => RedisLossAsync(run, ct),
            Drills.BrokerLoss => BrokerLossAsync(run, ct),
            Drills.BadTicks => Task.FromResult(BadTicks()),
            Drills.AuditImmutable => AuditImmutableAsync(ct),
            Drills.Metrics => MetricsAsync(ct),
            _ => throw new ArgumentException($"Unknown drill '{drill}'.", nameof(drill)),
        };
    }

    private async Task<DrillOutcome> MillionOrderAsync(DrillContext run, CancellationToken ct)
    {
        if (Prepare(run) is { } problem) return problem;
        // One share at $1,000,000: the order's value is $1M whatever the symbol trades at, and a limit price that far
        // from the market is also outside any price collar, so it cannot reach the broker even if MaxOrderValue failed.
        var outcome = await SubmitAsync(run, OrderSide.Sell, 1m, MillionUsd, ct);
        var figures = Figures(outcome, ("orderValueUsd", Text(MillionUsd)), ("symbol", run.Symbol));
        return outcome.Row?.Reason == nameof(RejectReason.MaxOrderValue)
            ? new DrillOutcome(true, $"A ${MillionUsd:N0} order was refused with MaxOrderValue (limit ${outcome.Row.LimitValue:N2}).", figures)
            : DrillOutcome.Fail($"A ${MillionUsd:N0} order was not refused with MaxOrderValue: {Describe(outcome)}.", figures);
    }

    private async Task<DrillOutcome> LimitsAsync(DrillContext run, CancellationToken ct)
    {
        if (Prepare(run) is { } problem) return problem;
        var l = run.Limits;
        var failures = new List<string>();
        var figures = new Dictionary<string, string>();

        // Through the live order path: limits a single order breaches by itself.
        var far = Up(run.Mark * 3m, run.PriceDecimals);
        var quantity = Math.Floor(l.MaxOrderQuantity) + 1m;
        await LiveCaseAsync(nameof(RejectReason.MaxOrderQuantity), quantity, far);
        await LiveCaseAsync(nameof(RejectReason.MaxOrderValue), 1m, Math.Max(Up(l.MaxOrderValueUsd + 1m, run.PriceDecimals), far));
        var outsideCollar = Up(run.Mark * (1m + l.PriceCollarPct) + Tick(run.PriceDecimals), run.PriceDecimals);
        if (outsideCollar > l.MaxOrderValueUsd)
            failures.Add($"PriceCollar: one share of {run.Symbol} outside the collar (${outsideCollar}) is above MaxOrderValueUsd, so the collar cannot be reached");
        else await LiveCaseAsync(nameof(RejectReason.PriceCollar), 1m, outsideCollar);

        // Against the limits in force with a breached account: limits only an account state can breach.
        foreach (var scenario in AccountScenarios.For(l))
        {
            if (scenario.Problem is { } impossible)
            {
                failures.Add($"{scenario.Expected}: {impossible}");
                figures[scenario.Expected.ToString()] = "cannot be breached";
                continue;
            }
            var decision = PreTradeCheck.Evaluate(scenario.Order, scenario.Account, l, scenario.Counters, scenario.Mark, SymbolDataStatus.Ok, TradingMode.Active);
            figures[scenario.Expected.ToString()] = decision.IsAccepted ? "accepted" : $"{decision.Reason} (limit {Text(decision.Limit)}, actual {Text(decision.Actual)})";
            if (decision.Reason != scenario.Expected) failures.Add($"{scenario.Expected}: a breaching order got {(decision.IsAccepted ? "accepted" : decision.Reason.ToString())}");
        }
        figures["limitTypesChecked"] = Text(figures.Count);
        return failures.Count == 0
            ? new DrillOutcome(true, $"Each of the {figures.Count - 1} limit types refused a breaching order with its own reason.", figures)
            : DrillOutcome.Fail($"{failures.Count} limit type(s) did not refuse as expected: {string.Join("; ", failures)}.", figures);

        async Task LiveCaseAsync(string expected, decimal qty, decimal price)
        {
            var outcome = await SubmitAsync(run, OrderSide.Sell, qty, price, ct);
            figures[expected] = outcome.Row?.Reason is { } reason ? $"{reason} (limit {Text(outcome.Row.LimitValue)}, actual {Text(outcome.Row.ActualValue)}, order {outcome.Row.ClientOrderId})" : Describe(outcome);
            if (outcome.Row?.Reason != expected) failures.Add($"{expected}: the live order path answered {Describe(outcome)}");
        }
    }

    private async Task<DrillOutcome> RateBurstAsync(DrillContext run, CancellationToken ct)
    {
        if (Prepare(run) is { } problem) return problem;
        if (broker.UsesRealMoney)
            return DrillOutcome.Fail($"The rate burst sends orders that are accepted; it runs only on a paper account, and broker '{broker.Name}' trades real money here.");
        var l = run.Limits;
        var before = await rates.PeekAsync(DrillStrategy, clock.GetUtcNow());
        var expected = (int)Math.Clamp(new[]
        {
            l.MaxOrdersPerMinute - before.StrategyLastMinute, l.MaxOrdersPerMinuteGlobal - before.GlobalLastMinute,
            l.MaxOrdersPerDay - before.StrategyToday, l.MaxOrdersPerDayGlobal - before.GlobalToday,
        }.Min(), 0, BurstSize);
        // Inside the collar, above the market: accepted orders rest without filling until they are cancelled below.
        var price = Up(run.Mark * (1m + l.PriceCollarPct / 2m), run.PriceDecimals);

        var started = Stopwatch.GetTimestamp();
        var outcomes = await Task.WhenAll(Enumerable.Range(0, BurstSize).Select(_ => SubmitAsync(run, OrderSide.Sell, 1m, price, ct)));
        var elapsed = Stopwatch.GetElapsedTime(started);

        var accepted = outcomes.Where(o => o.Row?.Decision == "accepted").ToList();
        var byRate = outcomes.Count(o => o.Row?.Reason?.StartsWith("MaxOrdersPer", StringComparison.Ordinal) == true);
        var others = outcomes.Where(o => o.Row?.Decision != "accepted" && o.Row?.Reason?.StartsWith("MaxOrdersPer", StringComparison.Ordinal) != true)
            .GroupBy(Describe).Select(g => $"{g.Count()}× {g.Key}").ToList();
        var cancelled = 0;
        foreach (var order in accepted)
        {
            try
            {
                if (await broker.CancelOrderAsync(order.Row!.ClientOrderId, ct) is { Status: BrokerOrderStatus.Canceled }) cancelled++;
            }
            catch (BrokerException)
            {
                // Counted below as not cancelled; the order rests far from the market on the paper broker.
            }
        }
        var figures = new Dictionary<string, string>
        {
            ["sent"] = Text(BurstSize), ["elapsedMs"] = Ms(elapsed), ["expectedAccepted"] = Text(expected), ["accepted"] = Text(accepted.Count),
            ["refusedByRateLimit"] = Text(byRate), ["cancelledAfter"] = Text(cancelled),
            ["allowance"] = $"{l.MaxOrdersPerMinute}/min strategy, {l.MaxOrdersPerMinuteGlobal}/min global, {l.MaxOrdersPerDay}/day, {l.MaxOrdersPerDayGlobal}/day global",
            ["countedBefore"] = $"{before.StrategyLastMinute} this minute, {before.StrategyToday} today",
        };
        if (others.Count > 0) figures["otherRefusals"] = string.Join(", ", others);
        return accepted.Count == expected && byRate == BurstSize - expected
            ? new DrillOutcome(true, $"{BurstSize} orders in {Ms(elapsed)} ms: exactly the allowance of {expected} accepted, {byRate} refused by the rate limit.", figures)
            : DrillOutcome.Fail($"{BurstSize} orders: {accepted.Count} accepted where the allowance was {expected}, {byRate} refused by the rate limit" +
                                (others.Count > 0 ? $", others: {string.Join(", ", others)}" : "") + ".", figures);
    }

    /// <summary>
    /// Halts the drill strategy through <c>POST /api/emergency/stop</c> on this instance, as a pager would: with an API key
    /// of scope <c>halt</c> made for this run alone and revoked when it ends (its token never leaves this process).
    /// </summary>
    private async Task<DrillOutcome> ManualStopAsync(DrillContext run, CancellationToken ct)
    {
        if (Prepare(run) is { } problem) return problem;
        using var http = httpFactory.CreateClient(ThisInstance.HttpClientName);
        if (http.BaseAddress is null) return DrillOutcome.Fail("This instance listens on no HTTP address, so the halt endpoint cannot be called.");
        await killSwitch.ResumeDrillStrategyAsync("readiness drill: clearing an earlier drill's halt", run.Actor, ct);
        if (tradingState.ModeFor(DrillStrategy) != TradingMode.Active)
            return DrillOutcome.Fail($"The drill strategy is not active before the drill ({tradingState.ModeFor(DrillStrategy)}): trading is halted or reduce-only globally.");
        var far = Up(run.Mark * 3m, run.PriceDecimals);
        var limit = options.Value.ManualStopMaxDelay;
        var keyName = $"{DrillKeyPrefix}{run.OrderIdPrefix}";
        // Revoked when the drill ends; the expiry is for an instance that dies before that, taking the token with it.
        var (key, _) = await apiKeys.CreateAsync(keyName, [Scopes.Halt], run.Actor, owner: run.Actor, ct: ct,
            expiresAt: clock.GetUtcNow() + limit * 3 + DrillKeyMargin);
        var figures = new Dictionary<string, string> { ["endpoint"] = new Uri(http.BaseAddress, HaltPath).ToString(), ["limitMs"] = Ms(limit) };
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, HaltPath)
            {
                Content = JsonContent.Create(new { reason = "readiness drill: manual stop of the drill strategy", mode = "halt", strategyId = DrillStrategy }),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            // The clock measures the halt, not the first connection and key lookup: a read with the same key comes first.
            using (var warmUp = new HttpRequestMessage(HttpMethod.Get, "/api/trading-state"))
            {
                warmUp.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                using var answer = await http.SendAsync(warmUp, ct);
                figures["warmUp"] = $"GET /api/trading-state: {(int)answer.StatusCode}";
            }

            var started = Stopwatch.GetTimestamp();
            var halt = http.SendAsync(request, ct);
            TimeSpan? refusedAfter = null;
            var attempts = 0;
            while (Stopwatch.GetElapsedTime(started) < limit * 3)
            {
                attempts++;
                var outcome = await SubmitAsync(run, OrderSide.Sell, 1m, far, ct);
                if (outcome.Row?.Reason == nameof(RejectReason.TradingHalted))
                {
                    refusedAfter = Stopwatch.GetElapsedTime(started);
                    break;
                }
            }
            using var response = await halt;
            var result = response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<HaltResult>(ct) : null;
            await killSwitch.ResumeDrillStrategyAsync("readiness drill: manual stop drill finished", run.Actor, ct);
            var afterResume = await SubmitAsync(run, OrderSide.Sell, 1m, far, ct);
            var resumed = afterResume.Row?.Reason != nameof(RejectReason.TradingHalted);

            figures["answer"] = $"{(int)response.StatusCode} {response.StatusCode}";
            figures["refusedAfterMs"] = refusedAfter is { } r ? Ms(r) : "never";
            figures["ordersTried"] = Text(attempts);
            figures["killSwitchRefusingAfterMs"] = result is null ? "none" : Text(Math.Round((decimal)result.RefusingAfterMs, 3));
            figures["haltCompleteMs"] = result is null ? "none" : Text(Math.Round((decimal)result.ElapsedMs, 1));
            figures["haltFailures"] = result is null ? "none" : result.Failures.Count == 0 ? "none" : string.Join("; ", result.Failures);
            figures["afterResume"] = Describe(afterResume);
            if (result is null) return DrillOutcome.Fail($"POST {HaltPath} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}", figures);
            if (refusedAfter is not { } after) return DrillOutcome.Fail($"No order was refused with TradingHalted within {Ms(limit * 3)} ms of the halt request.", figures);
            if (after > limit) return DrillOutcome.Fail($"The first refusal came {Ms(after)} ms after the halt request was sent (limit {Ms(limit)} ms).", figures);
            if (!resumed) return DrillOutcome.Fail("The drill strategy was still halted after the drill resumed it.", figures);
            return new DrillOutcome(true, $"POST {HaltPath} for the drill strategy: its next order was refused after {Ms(after)} ms (limit {Ms(limit)} ms); resumed after.", figures);
        }
        finally
        {
            await apiKeys.RevokeAsync(keyName, run.Actor, CancellationToken.None);
        }
    }

    private async Task<DrillOutcome> RedisLossAsync(DrillContext run, CancellationToken ct)
    {
        if (Prepare(run) is { } problem) return problem;
        return await FaultAsync(run, SafeModeMonitor.RedisUnreachable, options.Value.FaultWait, redisConnection, ct);
    }

    private async Task<DrillOutcome> BrokerLossAsync(DrillContext run, CancellationToken ct)
    {
        if (Prepare(run) is { } problem) return problem;
        // Safe mode engages once the broker has been silent for BrokerSilenceThreshold.
        return await FaultAsync(run, SafeModeMonitor.BrokerSilent, haltOptions.Value.BrokerSilenceThreshold + options.Value.FaultWait, brokerConnection, ct);
    }

    /// <summary>
    /// Cuts this instance's connection, proves a new order is refused with the safe-mode cause, restores it and proves
    /// an order is decided by the limits again once every cause the cut brought has cleared (losing Redis also loses
    /// the pub/sub listeners and the trading state's verification, which come back after it).
    /// </summary>
    private async Task<DrillOutcome> FaultAsync(DrillContext run, string cause, TimeSpan engageWait, ConnectionCut connection, CancellationToken ct)
    {
        var far = Up(run.Mark * 3m, run.PriceDecimals);
        var expected = OrderGateway.SafeModePrefix + cause;
        var causesBefore = safeMode.Active.Keys.ToHashSet(StringComparer.Ordinal);
        var started = Stopwatch.GetTimestamp();
        TimeSpan? engaged;
        OrderOutcome? during = null;
        connection.Cut();
        try
        {
            engaged = await WaitUntilAsync(() => safeMode.Active.ContainsKey(cause), engageWait, ct);
            if (engaged is not null) during = await SubmitAsync(run, OrderSide.Sell, 1m, far, ct);
        }
        finally
        {
            connection.Restore();
        }
        var cleared = await WaitUntilAsync(() => safeMode.Active.Keys.All(causesBefore.Contains), options.Value.FaultWait, ct);
        var after = await SubmitAsync(run, OrderSide.Sell, 1m, far, ct);
        var recovered = after.Row is { } row && !OrderGateway.IsUnavailable(row.Reason) && after.Kind != OutcomeKind.Unavailable;

        var figures = new Dictionary<string, string>
        {
            ["safeModeAfterMs"] = engaged is { } e ? Ms(e) : "never", ["refusedWith"] = during is null ? "not tried" : Describe(during),
            ["connectionCut"] = connection.Dependency == ConnectionCut.Broker ? $"{connection.Dependency} ({broker.Name})" : connection.Dependency, ["clearedAfterMs"] = cleared is { } c ? Ms(c) : "never", ["afterRecovery"] = Describe(after),
            ["totalMs"] = Ms(Stopwatch.GetElapsedTime(started)),
        };
        if (engaged is null) return DrillOutcome.Fail($"Safe mode ({cause}) did not engage within {Ms(engageWait)} ms of the fault.", figures);
        if (during?.Row?.Reason != expected) return DrillOutcome.Fail($"During the fault a new order got {Describe(during!)}, not '{expected}'.", figures);
        if (cleared is null)
            return DrillOutcome.Fail($"Safe mode did not clear within {Ms(options.Value.FaultWait)} ms after the connection was restored (still: {string.Join(", ", safeMode.Active.Keys.Where(k => !causesBefore.Contains(k)))}).", figures);
        if (!recovered) return DrillOutcome.Fail($"After recovery an order was still refused: {Describe(after)}.", figures);
        return new DrillOutcome(true, $"Orders refused with '{expected}' {Ms(engaged.Value)} ms into the fault; recovered {Ms(cleared.Value)} ms after it was removed.", figures);
    }

    private DrillOutcome BadTicks()
    {
        var symbol = symbols.All.Select(s => s.Symbol).FirstOrDefault(s => prices.Get(s) is not null);
        if (symbol is null || prices.Get(symbol) is not { } mark) return DrillOutcome.Fail("No symbol has a valid price to build bad ticks around.");
        var now = clock.GetUtcNow();
        var p = mark.Price;
        var cases = new (TickRejectReason Rule, Tick Tick)[]
        {
            (TickRejectReason.PriceTooLow, new Tick(symbol, 0.01m, null, null, null, now)),
            (TickRejectReason.PriceTooHigh, new Tick(symbol, 10_000_000m, null, null, null, now)),
            (TickRejectReason.Negative, new Tick(symbol, p, null, null, -1m, now)),
            (TickRejectReason.CrossedQuote, new Tick(symbol, p, p * 1.01m, p * 0.99m, null, now)),
            (TickRejectReason.SpreadTooWide, new Tick(symbol, p, p * 0.8m, p * 1.2m, null, now)),
            (TickRejectReason.PriceJump, new Tick(symbol, p * 3m, null, null, null, now)),
            (TickRejectReason.Stale, new Tick(symbol, p, null, null, null, now.AddHours(-1))),
            (TickRejectReason.FutureTimestamp, new Tick(symbol, p, null, null, null, now.AddHours(1))),
        };
        var failures = new List<string>();
        var figures = new Dictionary<string, string>();
        foreach (var (rule, tick) in cases)
        {
            var countBefore = MarketDataIngest.DrillFailureCount(rule);
            var verdict = marketData.Probe(tick);
            var counted = MarketDataIngest.DrillFailureCount(rule) - countBefore;
            figures[rule.ToString()] = verdict.Accepted ? "accepted" : $"{verdict.Reason}, counted {counted}";
            if (verdict.Accepted || verdict.Reason != rule) failures.Add($"{rule}: {(verdict.Accepted ? "accepted" : verdict.Reason.ToString())}");
            else if (counted < 1) failures.Add($"{rule}: refused but not counted in data_validation_failures");
        }
        return failures.Count == 0
            ? new DrillOutcome(true, $"Each of {cases.Length} bad ticks was refused by its rule and counted.", figures)
            : DrillOutcome.Fail($"Bad ticks not refused and counted: {string.Join("; ", failures)}.", figures);
    }

    /// <summary>What someone holding the application's connection might try on the trail; each must be refused.</summary>
    private static readonly (string Name, string Sql)[] AuditTamperAttempts =
    [
        ("update", "update audit_events set actor = actor || ' (altered)' where seq = (select max(seq) from audit_events)"),
        ("delete", "delete from audit_events where seq = (select max(seq) from audit_events)"),
        ("truncate", "truncate audit_events"),
        ("disableTrigger", "alter table audit_events disable trigger audit_events_append_only"),
        ("moveHeadBack", "update audit_head set seq = seq - 1"),
    ];

    private async Task<DrillOutcome> AuditImmutableAsync(CancellationToken ct)
    {
        var figures = new Dictionary<string, string>();
        var allowed = new List<string>();
        foreach (var (name, sql) in AuditTamperAttempts)
        {
            // Each in its own transaction, always rolled back: a drill never changes the trail, even if one got through.
            await using var connection = await db.OpenConnectionAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            try
            {
                await using var command = new NpgsqlCommand(sql, connection, transaction);
                figures[name] = $"NOT refused ({Text(await command.ExecuteNonQueryAsync(ct))} rows)";
                allowed.Add(name);
            }
            catch (PostgresException ex)
            {
                figures[name] = $"{ex.SqlState}: {ex.MessageText}";
            }
            await transaction.RollbackAsync(ct);
        }
        var report = await auditVerification.VerifyAsync(AuditVerificationMode.Incremental, ct);
        figures["chainVerified"] = report.Ok ? $"ok, {report.Verified} rows after seq {report.FromSeq} up to {report.ToSeq}" : $"FAILED at seq {report.FirstBadSeq}: {report.Problem}";
        if (allowed.Count > 0) return DrillOutcome.Fail($"Through the application's connection the audit trail accepted: {string.Join(", ", allowed)}.", figures);
        if (!report.Ok) return DrillOutcome.Fail($"Every change was refused but the chain does not verify: {report.Problem}.", figures);
        return new DrillOutcome(true, $"UPDATE, DELETE, TRUNCATE, disabling the trigger and moving the head back were all refused; the chain verifies up to seq {report.ToSeq}.", figures);
    }

    /// <summary>Scrapes <c>/metrics</c> over HTTP as Prometheus would, from loopback (an allowed network by default) or with the scrape token.</summary>
    private async Task<DrillOutcome> MetricsAsync(CancellationToken ct)
    {
        using var http = httpFactory.CreateClient(ThisInstance.HttpClientName);
        if (http.BaseAddress is null) return DrillOutcome.Fail("This instance listens on no HTTP address, so /metrics cannot be scraped.");
        using var request = new HttpRequestMessage(HttpMethod.Get, ObservabilitySetup.MetricsPath);
        if (metricsOptions.Value.ScrapeToken is { } token) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Trim());
        var started = Stopwatch.GetTimestamp();
        using var response = await http.SendAsync(request, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        var figures = new Dictionary<string, string>
        {
            ["scraped"] = $"{new Uri(http.BaseAddress, ObservabilitySetup.MetricsPath)}: {(int)response.StatusCode}, {Text(body.Length)} bytes in {Ms(Stopwatch.GetElapsedTime(started))} ms",
        };
        if (!response.IsSuccessStatusCode)
            return DrillOutcome.Fail($"GET {ObservabilitySetup.MetricsPath} answered {(int)response.StatusCode}; allow loopback in Metrics:AllowedNetworks or set Metrics:ScrapeToken.", figures);
        var lines = body.Split('\n');
        var missing = new List<string>();
        foreach (var name in RequiredSeries)
        {
            var samples = lines.Count(line => line.StartsWith(name + "{", StringComparison.Ordinal) || line.StartsWith(name + " ", StringComparison.Ordinal));
            var declared = lines.Any(line => line.StartsWith($"# TYPE {name} ", StringComparison.Ordinal));
            figures[name] = declared ? $"{samples} sample(s)" : "missing";
            if (!declared) missing.Add(name);
        }
        return missing.Count == 0
            ? new DrillOutcome(true, $"/metrics, scraped over HTTP, exposes all {RequiredSeries.Count} required series.", figures)
            : DrillOutcome.Fail($"/metrics lacks {string.Join(", ", missing)}.", figures);
    }

    /// <summary>Picks the cheapest priced symbol and reads the limits in force; null when the drill can run.</summary>
    private DrillOutcome? Prepare(DrillContext run)
    {
        if (limits.Current is not { } current) return DrillOutcome.Fail("The limits are not loaded.");
        if (!risk.IsReady) return DrillOutcome.Fail("The portfolio view is not loaded.");
        var priced = symbols.All.Select(s => (Spec: s, Mark: prices.Get(s.Symbol))).Where(s => s.Mark is { Price: > 0m }).OrderBy(s => s.Mark!.Price).FirstOrDefault();
        if (priced.Mark is null) return DrillOutcome.Fail("No symbol has a valid price: drill orders need a reference price.");
        run.Symbol = priced.Spec.Symbol;
        run.PriceDecimals = priced.Spec.PriceDecimals;
        run.Mark = priced.Mark.Price;
        run.Limits = phases.Cap(current.Limits);
        return null;
    }

    private Task<OrderOutcome> SubmitAsync(DrillContext run, OrderSide side, decimal quantity, decimal limitPrice, CancellationToken ct) =>
        gateway.SubmitAsync(new ParsedOrder(run.NextOrderId(), new OrderIntent(DrillStrategy, run.Symbol, side, quantity, OrderType.Limit, limitPrice), TimeInForce.Day),
            run.Actor, senderMayTradeStrategy: true, ct);

    private static async Task<TimeSpan?> WaitUntilAsync(Func<bool> condition, TimeSpan timeout, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started) < timeout)
        {
            if (condition()) return Stopwatch.GetElapsedTime(started);
            await Task.Delay(20, ct);
        }
        return condition() ? Stopwatch.GetElapsedTime(started) : null;
    }

    private static Dictionary<string, string> Figures(OrderOutcome outcome, params (string Key, string Value)[] more)
    {
        var figures = more.ToDictionary(m => m.Key, m => m.Value);
        figures["answer"] = Describe(outcome);
        if (outcome.Row is { } row) figures["clientOrderId"] = row.ClientOrderId;
        return figures;
    }

    private static string Describe(OrderOutcome outcome) => outcome.Row switch
    {
        { Decision: "accepted" } row => $"accepted ({row.Status})",
        { } row => $"refused: {row.Reason}",
        null => $"{outcome.Kind}: {outcome.Detail}",
    };

    private static decimal Tick(int decimals) => 1m / (decimal)Math.Pow(10, decimals);

    /// <summary>Rounds up to the symbol's price grid.</summary>
    private static decimal Up(decimal value, int decimals)
    {
        var scale = (decimal)Math.Pow(10, decimals);
        return Math.Ceiling(value * scale) / scale;
    }

    private static string Text(decimal? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "none";

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture);

    private sealed class DrillContext(string actor, string orderIdPrefix)
    {
        private int _next;
        public string Actor { get; } = actor;
        public string OrderIdPrefix { get; } = orderIdPrefix;
        public string Symbol { get; set; } = "";
        public int PriceDecimals { get; set; }
        public decimal Mark { get; set; }
        public RiskLimits Limits { get; set; } = RiskLimits.SeedDefaults;
        public string NextOrderId() => $"{OrderIdPrefix}-{Interlocked.Increment(ref _next)}";
    }
}
