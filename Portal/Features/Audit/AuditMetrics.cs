using Prometheus;

namespace Portal.Features.Audit;

public static class AuditMetrics
{
    public static readonly Gauge VerificationOk = Metrics.CreateGauge(
        "portal_audit_verification_ok", "1 if the last audit chain verification of this kind passed, 0 if it found a problem.",
        new GaugeConfiguration { LabelNames = ["mode"] });

    public static readonly Gauge CheckpointSeq = Metrics.CreateGauge(
        "portal_audit_checkpoint_seq", "Seq of the newest audit checkpoint this instance signed.");

    public static readonly Gauge WitnessedSeq = Metrics.CreateGauge(
        "portal_audit_witnessed_seq", "Tree size of the newest audit checkpoint the witness cosigned, as this instance last heard.");

    public static readonly Gauge WitnessOk = Metrics.CreateGauge(
        "portal_audit_witness_ok", "1 if the witness cosigned this instance's last submission, 0 if it refused it or could not be reached.");
}
