using System.Runtime.InteropServices;

namespace Portal.Domain.MarketData;

/// <summary>
/// Validates ticks against per-symbol <see cref="TickRules"/> and tracks each symbol's feed health.
/// Pure: the current time is always passed in. Only accepted ticks update the last valid price and timestamp.
/// Not thread-safe: give each consumer (or shard of symbols) its own instance.
/// </summary>
/// <remarks>
/// Checks run in this order and the first failure is reported: Negative, PriceTooLow, PriceTooHigh,
/// CrossedQuote, SpreadTooWide, FutureTimestamp, Stale, OutOfOrder, Duplicate, PriceJump, Spike.
/// Anomalies, counted towards Suspect: every refusal that says the data itself is aberrant (all but Stale,
/// OutOfOrder and Duplicate, which are late or repeated delivery of data that may be fine), a gap (a valid
/// tick stamped more than ExpectedCadence × GapMultiple after the previous valid one) and the start of a
/// flatline. Gaps and flatlines are reported on the accepted tick's <see cref="TickVerdict.Anomaly"/>.
/// A genuine re-pricing beyond the jump limit is refused until an operator calls <see cref="Reset"/>;
/// meanwhile the symbol turns Suspect, then Stale, which is the intended alarm. A sustained move that only
/// trips the spike check is accepted again once it fills half the spike window (the symbol is Suspect
/// meanwhile if the rejections outnumber the allowed anomalies).
/// </remarks>
public sealed class TickValidator
{
    private readonly TickRules _defaultRules;
    private readonly Dictionary<string, TickRules> _rulesBySymbol;
    private readonly Dictionary<string, SymbolState> _states = new(StringComparer.Ordinal);

    /// <param name="defaultRules">Rules for symbols without their own; <see cref="TickRules.Default"/> if null.</param>
    /// <param name="rulesBySymbol">Per-symbol overrides, copied at construction.</param>
    /// <exception cref="ArgumentException">Some rules are inconsistent.</exception>
    public TickValidator(TickRules? defaultRules = null, IReadOnlyDictionary<string, TickRules>? rulesBySymbol = null)
    {
        _defaultRules = defaultRules ?? TickRules.Default;
        _defaultRules.ThrowIfInvalid();
        _rulesBySymbol = rulesBySymbol is null
            ? new Dictionary<string, TickRules>(StringComparer.Ordinal)
            : new Dictionary<string, TickRules>(rulesBySymbol, StringComparer.Ordinal);
        foreach (TickRules rules in _rulesBySymbol.Values)
        {
            rules.ThrowIfInvalid();
        }
    }

    /// <summary>Checks a tick and, when it is valid, makes it the symbol's latest valid tick.</summary>
    /// <param name="now">Current time; never read from the system clock here.</param>
    public TickVerdict Validate(in Tick tick, DateTimeOffset now)
    {
        ArgumentException.ThrowIfNullOrEmpty(tick.Symbol, nameof(tick));
        SymbolState state = StateOf(tick.Symbol);
        TickVerdict verdict = Check(in tick, now, state);
        switch (verdict.Reason)
        {
            case TickRejectReason.None:
                TickAnomaly anomaly = state.Accept(in tick, now);
                return anomaly == TickAnomaly.None ? verdict : verdict with { Anomaly = anomaly };
            case TickRejectReason.Spike:
                // The spike window also takes prices refused only as spikes. Median and MAD ignore a minority
                // of outliers, so isolated spikes barely move the reference, while a sustained move (half the
                // window) becomes the new reference instead of freezing the symbol until someone resets it.
                state.Window.Add(tick.Price);
                state.RecordAnomaly(now);
                break;
            case TickRejectReason.Stale or TickRejectReason.OutOfOrder or TickRejectReason.Duplicate:
                break;
            default:
                state.RecordAnomaly(now);
                break;
        }

        return verdict;
    }

    /// <summary>
    /// Stale when the symbol has no valid tick stamped within <see cref="TickRules.MaxAge"/> of
    /// <paramref name="now"/>; otherwise Suspect when flatlined or when more than
    /// <see cref="TickRules.MaxAnomaliesInWindow"/> anomalies occurred within <see cref="TickRules.AnomalyWindow"/>;
    /// otherwise Ok.
    /// </summary>
    public SymbolDataStatus Status(string symbol, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(symbol);
        if (!_states.TryGetValue(symbol, out SymbolState? state)
            || !state.HasValidTick
            || now - state.LastTimestamp > state.Rules.MaxAge)
        {
            return SymbolDataStatus.Stale;
        }

        return state.IsFlatlined || state.HasTooManyAnomalies(now) ? SymbolDataStatus.Suspect : SymbolDataStatus.Ok;
    }

    /// <summary>
    /// Forgets everything known about a symbol (last valid tick, spike window, anomalies), e.g. after an
    /// operator confirms a genuine re-pricing that the jump check keeps refusing.
    /// </summary>
    public void Reset(string symbol)
    {
        ArgumentNullException.ThrowIfNull(symbol);
        _states.Remove(symbol);
    }

    private SymbolState StateOf(string symbol)
    {
        ref SymbolState? state = ref CollectionsMarshal.GetValueRefOrAddDefault(_states, symbol, out bool exists);
        if (!exists)
        {
            state = new SymbolState(_rulesBySymbol.GetValueOrDefault(symbol, _defaultRules));
        }

        return state!;
    }

    private static TickVerdict Check(in Tick tick, DateTimeOffset now, SymbolState state)
    {
        TickRules rules = state.Rules;
        decimal price = tick.Price;

        if (price < 0 || tick.Bid < 0 || tick.Ask < 0 || tick.Size < 0)
        {
            return Reject(TickRejectReason.Negative, $"price {price}, bid {tick.Bid}, ask {tick.Ask}, size {tick.Size}: none may be negative");
        }

        if (price <= rules.MinPrice)
        {
            return Reject(TickRejectReason.PriceTooLow, $"price {price} is at or below the minimum {rules.MinPrice}");
        }

        if (price > rules.MaxPrice)
        {
            return Reject(TickRejectReason.PriceTooHigh, $"price {price} is above the maximum {rules.MaxPrice}");
        }

        if (tick.Bid is decimal bid && tick.Ask is decimal ask)
        {
            if (bid > ask)
            {
                return Reject(TickRejectReason.CrossedQuote, $"bid {bid} is above ask {ask}");
            }

            // (ask − bid)/bid > limit, multiplied out so it stays exact; a zero bid has no finite spread.
            if (bid == 0 || ask - bid > rules.MaxSpreadPct * bid)
            {
                return Reject(TickRejectReason.SpreadTooWide, $"spread of bid {bid} / ask {ask} exceeds {rules.MaxSpreadPct} of the bid");
            }
        }

        if (tick.Timestamp - now > rules.MaxFutureSkew)
        {
            return Reject(TickRejectReason.FutureTimestamp, $"timestamp {tick.Timestamp:O} is more than {rules.MaxFutureSkew} ahead of {now:O}");
        }

        if (now - tick.Timestamp > rules.MaxAge)
        {
            return Reject(TickRejectReason.Stale, $"timestamp {tick.Timestamp:O} is more than {rules.MaxAge} before {now:O}");
        }

        if (state.HasValidTick)
        {
            if (tick.Timestamp < state.LastTimestamp)
            {
                return Reject(TickRejectReason.OutOfOrder, $"timestamp {tick.Timestamp:O} precedes the last valid tick at {state.LastTimestamp:O}");
            }

            if (state.IsRepeatOfLast(in tick))
            {
                return Reject(TickRejectReason.Duplicate, $"same timestamp {tick.Timestamp:O} and fields as the last valid tick");
            }

            decimal last = state.LastPrice;
            if (Math.Abs(price - last) > rules.MaxChangePct * last)
            {
                return Reject(TickRejectReason.PriceJump, $"price {price} moved more than {rules.MaxChangePct} from the last valid price {last}");
            }
        }

        if (state.Window.IsSpike(price, rules.SpikeZScore, out double zScore))
        {
            return Reject(TickRejectReason.Spike, $"price {price} has robust z-score {zScore:0.##}, above {rules.SpikeZScore}");
        }

        return TickVerdict.Accept;
    }

    // Details are formatted only on rejection, so accepted ticks allocate nothing.
    private static TickVerdict Reject(TickRejectReason reason, FormattableString detail) =>
        TickVerdict.Reject(reason, FormattableString.Invariant(detail));

    private sealed class SymbolState(TickRules rules)
    {
        // Ring of the times of the last MaxAnomaliesInWindow + 1 anomalies: the symbol is suspect when the
        // oldest of them is still inside the window.
        private readonly DateTimeOffset[] _anomalyTimes = new DateTimeOffset[rules.MaxAnomaliesInWindow + 1];
        private int _anomalyCount;
        private int _nextAnomaly;
        private int _identicalPriceRun;
        private decimal? _lastBid;
        private decimal? _lastAsk;
        private decimal? _lastSize;

        public TickRules Rules { get; } = rules;

        public RollingPriceWindow Window { get; } = new(rules.SpikeWindow);

        public bool HasValidTick { get; private set; }

        public decimal LastPrice { get; private set; }

        public DateTimeOffset LastTimestamp { get; private set; }

        public bool IsFlatlined => _identicalPriceRun >= Rules.FlatlineCount;

        public bool IsRepeatOfLast(in Tick tick) =>
            tick.Timestamp == LastTimestamp
            && tick.Price == LastPrice
            && tick.Bid == _lastBid
            && tick.Ask == _lastAsk
            && tick.Size == _lastSize;

        public TickAnomaly Accept(in Tick tick, DateTimeOffset now)
        {
            TickAnomaly anomaly = TickAnomaly.None;
            if (HasValidTick && tick.Timestamp - LastTimestamp > Rules.MaxGap)
            {
                anomaly = TickAnomaly.Gap;
                RecordAnomaly(now);
            }

            if (HasValidTick && tick.Price == LastPrice)
            {
                // Saturates at the threshold so an endless flat feed cannot overflow the counter.
                if (_identicalPriceRun < Rules.FlatlineCount && ++_identicalPriceRun == Rules.FlatlineCount)
                {
                    anomaly = TickAnomaly.Flatline;
                    RecordAnomaly(now);
                }
            }
            else
            {
                _identicalPriceRun = 1;
            }

            Window.Add(tick.Price);
            HasValidTick = true;
            LastPrice = tick.Price;
            LastTimestamp = tick.Timestamp;
            _lastBid = tick.Bid;
            _lastAsk = tick.Ask;
            _lastSize = tick.Size;
            return anomaly;
        }

        public void RecordAnomaly(DateTimeOffset now)
        {
            _anomalyTimes[_nextAnomaly] = now;
            _nextAnomaly = (_nextAnomaly + 1) % _anomalyTimes.Length;
            _anomalyCount = Math.Min(_anomalyCount + 1, _anomalyTimes.Length);
        }

        public bool HasTooManyAnomalies(DateTimeOffset now) =>
            _anomalyCount == _anomalyTimes.Length && now - _anomalyTimes[_nextAnomaly] <= Rules.AnomalyWindow;
    }
}
