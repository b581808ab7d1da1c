using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Portal.Components.Shared;
using Portal.Domain.Audit;
using Portal.Domain.MarketData;
using Portal.Features.Audit;
using Portal.Features.Live;
using Portal.Features.Market;
using Portal.Features.Observability;
using Portal.Features.Risk;
using Prometheus;

namespace Portal.Features.MarketData;

/// <summary>
/// The one path every tick takes, whatever its feed (API batches, the demo market, a broker stream,
/// readiness drills): validation against the symbol's rules, then only valid ticks reach the
/// <see cref="PriceBook"/>; refused ticks are counted and queued for the quarantine table. All state is
/// in memory: no database round trip per tick. Every tick that changes a symbol's validation state (valid, or
/// aberrant) and every reset is also queued for the other instances (<see cref="MarketDataRelay"/>), which feed it
/// through their own ingest as a peer's: validated again, but neither shared again, quarantined, counted nor audited there.
/// </summary>
/// <remarks>
/// Status per symbol (see <see cref="TickValidator.Status"/>): Stale until a valid tick stamped within
/// MaxAge arrives, and again once the newest valid tick is older than that; Suspect while flatlined
/// (clears on the next different valid price) or while more than MaxAnomaliesInWindow anomalies
/// (aberrant refusals, spikes, jumps, gaps, flatline starts) lie within AnomalyWindow (clears as they age
/// out); Ok otherwise. Transitions are published live and audited; ticks are not.
/// Symbols are split over shards, each a validator under its own lock, so concurrent feeds of different
/// symbols rarely wait for each other. The order path reads <see cref="StatusOf"/> without any lock.
/// </remarks>
public sealed class MarketDataIngest : IMarketDataView
{
    private const int ShardCount = 16;
    private const int RecentAnomaliesKept = 200;
    private const double VolatilityDecay = 0.94;

    private readonly Shard[] _shards = new Shard[ShardCount];
    private readonly ConcurrentDictionary<string, SymbolFeed> _feeds = new(StringComparer.Ordinal);
    private readonly HashSet<string> _tradable;
    private readonly MarketDataOptions _options;
    private readonly PriceBook _prices;
    private readonly QuarantineQueue _quarantine;
    private readonly TickRelayQueue _relay;
    private readonly OpsEventBus _live;
    private readonly AuditTrail _audit;
    private readonly TimeProvider _clock;
    private readonly RefusalHistory _refusals = new();
    private readonly Lock _anomalyGate = new();
    private readonly LinkedList<DataAnomaly> _recentAnomalies = new();
    private long _lastAcceptedAtUtcTicks;

    public MarketDataIngest(IOptions<MarketDataOptions> options, IOptions<MarketOptions> market, PriceBook prices, QuarantineQueue quarantine,
        TickRelayQueue relay, OpsEventBus live, AuditTrail audit, TimeProvider clock)
    {
        _options = options.Value;
        _prices = prices;
        _quarantine = quarantine;
        _relay = relay;
        _live = live;
        _audit = audit;
        _clock = clock;
        _tradable = market.Value.Symbols.Select(s => s.Symbol).ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i < ShardCount; i++) _shards[i] = new Shard(new TickValidator(_options.Rules, _options.Symbols));
    }

    /// <summary>The source recorded for ticks another instance validated first.</summary>
    public const string PeerSource = "peer";

    /// <summary>When this process last accepted a tick from any feed, its own or a peer's; null before the first.</summary>
    public DateTimeOffset? LastAcceptedAt
    {
        get
        {
            var ticks = Interlocked.Read(ref _lastAcceptedAtUtcTicks);
            return ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
        }
    }

    /// <summary>
    /// Validates a batch from one feed, in order, and applies the valid ticks. Returns one verdict per tick.
    /// </summary>
    /// <param name="source">The feed, e.g. <c>demo</c>, <c>alpaca:iex</c> or <c>apikey:NAME</c>; recorded with refusals.</param>
    public TickVerdict[] Ingest(IReadOnlyList<Tick> ticks, string source)
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        return Ingest(ticks, source, fromPeer: false);
    }

    /// <summary>Ticks another instance validated and shared, in its order: validated here too, so windows and statuses agree.</summary>
    public void IngestFromPeer(IReadOnlyList<Tick> ticks) => Ingest(ticks, PeerSource, fromPeer: true);

    private TickVerdict[] Ingest(IReadOnlyList<Tick> ticks, string source, bool fromPeer)
    {
        ArgumentNullException.ThrowIfNull(ticks);
        var now = _clock.GetUtcNow();
        var verdicts = new TickVerdict[ticks.Count];
        List<StatusChange>? changes = null;
        // The newest valid price per symbol of this batch: the price book needs only the last one.
        Dictionary<string, PriceMark>? marks = null;
        for (var i = 0; i < ticks.Count; i++)
        {
            var tick = ticks[i];
            if (!_tradable.Contains(tick.Symbol))
            {
                verdicts[i] = TickVerdict.Reject(TickRejectReason.UnknownSymbol, $"'{tick.Symbol}' is not a symbol Portal trades");
                Refused(tick, verdicts[i], source, now, fromPeer: fromPeer);
                continue;
            }

            if (!_feeds.TryGetValue(tick.Symbol, out var feed)) feed = _feeds.GetOrAdd(tick.Symbol, new SymbolFeed(tick.Symbol, RulesFor(tick.Symbol)));
            var shard = ShardOf(tick.Symbol);
            TickVerdict verdict;
            lock (shard.Gate)
            {
                // A symbol that went stale since the monitor last looked is recorded as stale before this tick revives it.
                if (feed.LastValidTimestamp is { } lastValid && now - lastValid > feed.Rules.MaxAge
                    && UpdateStatus(feed, shard.Validator.Status(tick.Symbol, now), now) is { } lapse) (changes ??= []).Add(lapse);
                verdict = shard.Validator.Validate(in tick, now);
                // Shared under the lock, so peers validate a symbol's ticks in the order this instance did.
                if (!fromPeer && ChangesValidationState(verdict)) _relay.Enqueue(in tick);
                if (verdict.Accepted)
                {
                    feed.Accept(in tick, now);
                    (marks ??= new Dictionary<string, PriceMark>(StringComparer.Ordinal))[tick.Symbol] =
                        new PriceMark(tick.Symbol, tick.Price, tick.Timestamp, feed.Volatility);
                }
                feed.LastTickAt = now;
                if (UpdateStatus(feed, shard.Validator.Status(tick.Symbol, now), now) is { } change) (changes ??= []).Add(change);
            }
            verdicts[i] = verdict;
            var age = Math.Max(0, (now - tick.Timestamp).TotalSeconds);
            feed.Age.Set(age);
            PortalMetrics.DataStalenessSeconds.Observe(age);
            if (verdict.Accepted)
            {
                if (verdict.Anomaly != TickAnomaly.None)
                    RecordAnomaly(new DataAnomaly(now, tick.Symbol, verdict.Anomaly.ToString(), AnomalyDetail(verdict.Anomaly, feed.Rules), source));
            }
            else Refused(tick, verdict, source, now, fromPeer: fromPeer);
        }
        if (marks is not null)
        {
            foreach (var mark in marks.Values) _prices.Update(mark);
            Interlocked.Exchange(ref _lastAcceptedAtUtcTicks, now.UtcTicks);
        }
        if (changes is not null) foreach (var change in changes) Announce(change, fromPeer);
        return verdicts;
    }

    /// <summary>
    /// A price from outside the feed (the broker's latest bar, read at start-up) so that positions are valued before the
    /// first tick. It is not a tick: the symbol stays Stale (orders are refused <c>DataStale</c>), the feed stays silent,
    /// and the validator's reference is untouched. Ignored for an unknown symbol, a price outside the symbol's bounds,
    /// a time in the future, or when a price as recent is already known.
    /// </summary>
    public bool SeedReferencePrice(string symbol, decimal price, DateTimeOffset asOf)
    {
        if (!_tradable.Contains(symbol)) return false;
        var rules = RulesFor(symbol);
        if (price <= rules.MinPrice || price > rules.MaxPrice || asOf - _clock.GetUtcNow() > rules.MaxFutureSkew) return false;
        return _prices.SeedIfNewer(new PriceMark(symbol, price, asOf, 0m));
    }

    /// <summary>
    /// Validates a tick with the symbol's rules against its current reference price, as the feed's would be, and
    /// counts a refusal in <c>data_validation_failures{source="drill"}</c>; the symbol's state, status and price never change (the
    /// readiness drill proves the rules hold in the running system without disturbing trading).
    /// </summary>
    public TickVerdict Probe(in Tick tick)
    {
        var now = _clock.GetUtcNow();
        var validator = new TickValidator(_options.Rules, _options.Symbols);
        if (_prices.Get(tick.Symbol) is { } mark)
            validator.Validate(new Tick(tick.Symbol, mark.Price, null, null, null, now.AddSeconds(-1)), now);
        var verdict = validator.Validate(in tick, now);
        if (!verdict.Accepted) PortalMetrics.DataValidationFailures.WithLabels(verdict.Reason.ToString(), PortalMetrics.DrillSource).Inc();
        return verdict;
    }

    /// <summary>Refused ticks counted for <paramref name="reason"/> since start-up.</summary>
    public static double DrillFailureCount(TickRejectReason reason) => PortalMetrics.DataValidationFailures.WithLabels(reason.ToString(), PortalMetrics.DrillSource).Value;

    /// <summary>
    /// A tick whose numbers could not be represented (NaN, ±∞, beyond decimal) never becomes a
    /// <see cref="Tick"/>; the parser reports it here so it is counted and quarantined like any refusal.
    /// </summary>
    public void RefuseUnrepresentable(string symbol, DateTimeOffset timestamp, TickVerdict verdict, string source) =>
        Refused(new Tick(symbol, 0m, null, null, null, timestamp), verdict, source, _clock.GetUtcNow(), pricesKnown: false);

    /// <summary>
    /// The symbol's data status as of now, read without locks for the order path. Staleness is judged
    /// here against the clock, so it is exact at decision time; Suspect is as of the last tick or status check.
    /// </summary>
    public SymbolDataStatus StatusOf(string symbol)
    {
        if (!_feeds.TryGetValue(symbol, out var feed) || feed.LastValidTimestamp is not { } last) return SymbolDataStatus.Stale;
        if (_clock.GetUtcNow() - last > feed.Rules.MaxAge) return SymbolDataStatus.Stale;
        return feed.Status;
    }

    /// <summary>Every symbol heard from (or traded), with its status, newest tick and last valid price.</summary>
    public IReadOnlyList<SymbolDataView> Symbols()
    {
        var now = _clock.GetUtcNow();
        return _tradable.Select(symbol => _feeds.TryGetValue(symbol, out var feed)
                ? new SymbolDataView(symbol, StatusOf(symbol), feed.LastTickAt, feed.LastValidTimestamp, feed.LastValidPrice, now)
                : new SymbolDataView(symbol, SymbolDataStatus.Stale, null, null, null, now))
            .OrderBy(v => v.Symbol, StringComparer.Ordinal).ToList();
    }

    /// <summary>The newest anomalies and aberrant refusals, newest first.</summary>
    public IReadOnlyList<DataAnomaly> RecentAnomalies()
    {
        lock (_anomalyGate) return _recentAnomalies.ToList();
    }

    /// <summary>Refusals per reason for each of the last <paramref name="minutes"/> minutes, oldest first.</summary>
    public IReadOnlyList<RefusalMinute> RefusalsByMinute(int minutes) => _refusals.Last(minutes, _clock.GetUtcNow());

    /// <summary>
    /// Re-judges every symbol against the clock: a symbol without fresh ticks turns Stale, anomalies age
    /// out. Called periodically by <see cref="MarketDataStatusMonitor"/>.
    /// </summary>
    public void RefreshStatuses()
    {
        var now = _clock.GetUtcNow();
        List<StatusChange>? changes = null;
        foreach (var feed in _feeds.Values)
        {
            var shard = ShardOf(feed.Symbol);
            lock (shard.Gate)
            {
                if (UpdateStatus(feed, shard.Validator.Status(feed.Symbol, now), now) is { } change) (changes ??= []).Add(change);
            }
        }
        if (changes is not null) foreach (var change in changes) Announce(change);
    }

    /// <summary>
    /// Forgets a symbol's history (last valid price, spike window, anomalies) after an operator confirmed a
    /// genuine re-pricing that the jump check keeps refusing. The symbol is Stale until its next valid tick.
    /// </summary>
    public void Reset(string symbol, string actor) => Reset(symbol, actor, fromPeer: false);

    /// <summary>A reset made on another instance, applied here between the same ticks as there.</summary>
    public void ResetFromPeer(string symbol) => Reset(symbol, PeerSource, fromPeer: true);

    private void Reset(string symbol, string actor, bool fromPeer)
    {
        var shard = ShardOf(symbol);
        StatusChange? change = null;
        lock (shard.Gate)
        {
            shard.Validator.Reset(symbol);
            if (!fromPeer) _relay.EnqueueReset(symbol);
            if (_feeds.TryGetValue(symbol, out var feed))
            {
                feed.Forget();
                change = UpdateStatus(feed, SymbolDataStatus.Stale, _clock.GetUtcNow(), "reset by " + actor);
            }
        }
        if (change is { } c) Announce(c, fromPeer);
    }

    private TickRules RulesFor(string symbol) => _options.Symbols.GetValueOrDefault(symbol, _options.Rules);

    private Shard ShardOf(string symbol) => _shards[(int)((uint)StringComparer.Ordinal.GetHashCode(symbol) % ShardCount)];

    /// <summary>Late or repeated ticks (stale, out of order, duplicate) change nothing a peer would need.</summary>
    private static bool ChangesValidationState(TickVerdict verdict) =>
        verdict.Accepted || verdict.Reason is not (TickRejectReason.Stale or TickRejectReason.OutOfOrder or TickRejectReason.Duplicate);

    private static StatusChange? UpdateStatus(SymbolFeed feed, SymbolDataStatus status, DateTimeOffset now, string? why = null)
    {
        if (feed.Status == status) return null;
        var change = new StatusChange(feed.Symbol, feed.Status, status, why ?? Explain(status, feed), now);
        feed.Status = status;
        return change;
    }

    private static string Explain(SymbolDataStatus status, SymbolFeed feed) => status switch
    {
        SymbolDataStatus.Stale => $"no valid tick stamped within {Formats.Duration(feed.Rules.MaxAge)}",
        SymbolDataStatus.Suspect => $"flatlined, or more than {feed.Rules.MaxAnomaliesInWindow} anomalies within {Formats.Duration(feed.Rules.AnomalyWindow)}",
        _ => "fresh valid ticks",
    };

    private static string AnomalyDetail(TickAnomaly anomaly, TickRules rules) => anomaly == TickAnomaly.Gap
        ? $"no valid tick for longer than {Formats.Duration(rules.ExpectedCadence * rules.GapMultiple)}"
        : $"{rules.FlatlineCount} identical prices in a row";

    private void Refused(in Tick tick, TickVerdict verdict, string source, DateTimeOffset now, bool pricesKnown = true, bool fromPeer = false)
    {
        var reason = verdict.Reason.ToString();
        _refusals.Add(verdict.Reason, now);
        // The instance that received the tick counted and quarantined it.
        if (!fromPeer)
        {
            PortalMetrics.DataValidationFailures.WithLabels(reason, PortalMetrics.TradingSource).Inc();
            _quarantine.Enqueue(new QuarantinedTick(now, source, tick.Symbol, pricesKnown ? tick.Price : null, tick.Bid, tick.Ask, tick.Size,
                tick.Timestamp, reason, verdict.Detail));
        }
        if (verdict.Reason is not (TickRejectReason.Stale or TickRejectReason.OutOfOrder or TickRejectReason.Duplicate))
            RecordAnomaly(new DataAnomaly(now, tick.Symbol, reason, verdict.Detail, source));
    }

    private void RecordAnomaly(DataAnomaly anomaly)
    {
        lock (_anomalyGate)
        {
            _recentAnomalies.AddFirst(anomaly);
            if (_recentAnomalies.Count > RecentAnomaliesKept) _recentAnomalies.RemoveLast();
        }
    }

    private void Announce(StatusChange change, bool fromPeer = false)
    {
        PortalMetrics.DataStatus.WithLabels(change.Symbol).Set((int)change.To);
        // The instance whose tick or reset caused the change published and audited it.
        if (fromPeer) return;
        _live.Publish(OpsEventTypes.MarketData, change);
        _ = _audit.AppendEventuallyAsync(AuditEventDraft.Create(change.At, "system:market-data", "market_data.status_changed", "symbol:" + change.Symbol,
            new { symbol = change.Symbol, from = change.From.ToString(), to = change.To.ToString(), reason = change.Reason }));
    }

    private sealed class Shard(TickValidator validator)
    {
        public Lock Gate { get; } = new();
        public TickValidator Validator { get; } = validator;
    }

    /// <summary>What the order path and the page read about one symbol; written under its shard's lock.</summary>
    private sealed class SymbolFeed(string symbol, TickRules rules)
    {
        private double _variance;
        // UTC ticks, 0 before the first valid tick: one word, so the order path reads it without a lock and without tearing.
        private long _lastValidUtcTicks;

        public string Symbol { get; } = symbol;
        public TickRules Rules { get; } = rules;
        public Gauge.Child Age { get; } = PortalMetrics.DataAgeSeconds.WithLabels(symbol);
        public volatile SymbolDataStatus Status = SymbolDataStatus.Stale;
        public DateTimeOffset? LastTickAt { get; set; }
        public DateTimeOffset? LastValidTimestamp
        {
            get
            {
                var ticks = Volatile.Read(ref _lastValidUtcTicks);
                return ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
            }
        }

        public decimal? LastValidPrice { get; private set; }

        /// <summary>Exponentially weighted standard deviation of per-tick returns, for the slippage model.</summary>
        public decimal Volatility => (decimal)Math.Sqrt(_variance);

        public void Accept(in Tick tick, DateTimeOffset now)
        {
            if (LastValidPrice is { } last && last > 0m)
            {
                var change = (double)((tick.Price - last) / last);
                _variance = VolatilityDecay * _variance + (1 - VolatilityDecay) * change * change;
            }
            LastValidPrice = tick.Price;
            Volatile.Write(ref _lastValidUtcTicks, tick.Timestamp.UtcTicks);
        }

        public void Forget()
        {
            _variance = 0;
            LastValidPrice = null;
            Volatile.Write(ref _lastValidUtcTicks, 0);
        }
    }

    /// <summary>Refusal counts per reason in one-minute buckets over the last hour.</summary>
    private sealed class RefusalHistory
    {
        private const int Minutes = 60;
        private static readonly int ReasonCount = Enum.GetValues<TickRejectReason>().Length;
        private readonly Lock _gate = new();
        private readonly long[] _minuteOf = new long[Minutes];
        private readonly int[,] _counts = new int[Minutes, ReasonCount];

        public void Add(TickRejectReason reason, DateTimeOffset now)
        {
            var minute = now.ToUnixTimeSeconds() / 60;
            var slot = (int)(minute % Minutes);
            lock (_gate)
            {
                if (_minuteOf[slot] != minute)
                {
                    _minuteOf[slot] = minute;
                    for (var r = 0; r < ReasonCount; r++) _counts[slot, r] = 0;
                }
                _counts[slot, (int)reason]++;
            }
        }

        public IReadOnlyList<RefusalMinute> Last(int minutes, DateTimeOffset now)
        {
            minutes = Math.Clamp(minutes, 1, Minutes);
            var current = now.ToUnixTimeSeconds() / 60;
            var result = new List<RefusalMinute>(minutes);
            lock (_gate)
            {
                for (var minute = current - minutes + 1; minute <= current; minute++)
                {
                    var slot = (int)(minute % Minutes);
                    var counts = new Dictionary<TickRejectReason, int>();
                    if (_minuteOf[slot] == minute)
                        for (var r = 1; r < ReasonCount; r++)
                            if (_counts[slot, r] > 0) counts[(TickRejectReason)r] = _counts[slot, r];
                    result.Add(new RefusalMinute(DateTimeOffset.FromUnixTimeSeconds(minute * 60), counts));
                }
            }
            return result;
        }
    }
}

/// <summary>What the data quality page reads from the ingest.</summary>
public interface IMarketDataView
{
    IReadOnlyList<SymbolDataView> Symbols();

    IReadOnlyList<DataAnomaly> RecentAnomalies();

    IReadOnlyList<RefusalMinute> RefusalsByMinute(int minutes);
}

/// <summary>A symbol's data status changed (published live as <see cref="OpsEventTypes.MarketData"/> and audited).</summary>
public sealed record StatusChange(string Symbol, SymbolDataStatus From, SymbolDataStatus To, string Reason, DateTimeOffset At);

/// <summary>One symbol as the data quality page shows it.</summary>
public sealed record SymbolDataView(string Symbol, SymbolDataStatus Status, DateTimeOffset? LastTickAt,
    DateTimeOffset? LastValidTimestamp, decimal? LastValidPrice, DateTimeOffset Now)
{
    /// <summary>Age of the newest valid tick's timestamp.</summary>
    public TimeSpan? Age => LastValidTimestamp is { } t ? Now - t : null;
}

/// <summary>An aberrant refusal or an anomaly seen on an accepted tick.</summary>
public sealed record DataAnomaly(DateTimeOffset At, string Symbol, string Kind, string Detail, string Source);

public sealed record RefusalMinute(DateTimeOffset Minute, IReadOnlyDictionary<TickRejectReason, int> Counts);
