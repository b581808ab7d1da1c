using Prometheus;

namespace Portal.Features.Observability;

/// <summary>
/// The seed memo's series, with the names it gives them. Series a readiness drill moves on purpose carry
/// <c>source="drill"</c> (otherwise <c>"trading"</c>), so paging rules can leave drills out (deploy/prometheus/alerts.yml).
/// </summary>
public static class PortalMetrics
{
    public const string DrillSource = "drill";
    public const string TradingSource = "trading";

    public static string SourceOf(string strategyId) => strategyId == Portal.Infrastructure.Redis.RateCounter.DrillStrategyId ? DrillSource : TradingSource;

    public static readonly Counter OrdersTotal = Metrics.CreateCounter(
        "trading_orders_total", "Order requests decided, by decision.", new CounterConfiguration { LabelNames = ["decision", "source"] });

    public static readonly Counter OrdersRejected = Metrics.CreateCounter(
        "trading_orders_rejected", "Orders refused, by reason.", new CounterConfiguration { LabelNames = ["reason", "source"] });

    public static readonly Counter RiskBreaches = Metrics.CreateCounter(
        "trading_risk_breaches", "Orders that would have breached a hard risk limit, by limit.", new CounterConfiguration { LabelNames = ["limit", "source"] });

    public static readonly Counter RateCounterRestores = Metrics.CreateCounter(
        "portal_rate_counter_restores_total", "Times the shared order-rate counters were lost in Redis and rebuilt from Postgres.");

    public static readonly Counter OrdersForbiddenStrategy = Metrics.CreateCounter(
        "portal_orders_forbidden_strategy_total", "Orders refused (403) because the API key may not trade the strategy they name; 'reserved' for Portal's own ids.",
        "kind");

    public static readonly Histogram OrderDecisionSeconds = Metrics.CreateHistogram(
        "portal_order_decision_seconds", "Time from a parsed order request to its durable decision and broker reply.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0005, 2, 14) });

    public static readonly Counter DataValidationFailures = Metrics.CreateCounter(
        "data_validation_failures", "Market-data ticks refused, by reason.", new CounterConfiguration { LabelNames = ["reason", "source"] });

    public static readonly Histogram DataStalenessSeconds = Metrics.CreateHistogram(
        "data_staleness_seconds", "Age of data when processed: now minus the tick's timestamp, for every tick this instance processes.",
        new HistogramConfiguration { Buckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300] });

    public static readonly Gauge DataAgeSeconds = Metrics.CreateGauge(
        "portal_data_age_seconds", "Age of the symbol's newest tick (now minus its timestamp) when it was processed.",
        new GaugeConfiguration { LabelNames = ["symbol"] });

    public static readonly Gauge DataStatus = Metrics.CreateGauge(
        "data_status", "Market-data status of the symbol: 0 ok, 1 stale, 2 suspect.", new GaugeConfiguration { LabelNames = ["symbol"] });

    public static readonly Counter DataQuarantineDropped = Metrics.CreateCounter(
        "data_quarantine_dropped", "Refused ticks not written to the quarantine table because its write queue was full.");
    public static readonly Histogram ModelPredictionConfidence = Metrics.CreateHistogram(
        "model_prediction_confidence", "Confidence of each model output posted to /api/model/observations, by model.",
        new HistogramConfiguration { LabelNames = ["model"], Buckets = Histogram.LinearBuckets(0.1, 0.1, 10) });

    public static readonly Gauge ModelDriftScore = Metrics.CreateGauge(
        "model_drift_score", "Largest KS distance D over a model's features, prediction and confidence in its latest drift check, by model.",
        new GaugeConfiguration { LabelNames = ["model"] });
}
