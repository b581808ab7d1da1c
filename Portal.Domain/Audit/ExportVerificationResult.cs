namespace Portal.Domain.Audit;

/// <summary>Outcome of verifying an export file against its manifest.</summary>
/// <param name="LinesVerified">Lines that passed every check.</param>
/// <param name="FirstBadLine">1-based line of the first problem; null for problems of the manifest as a whole.</param>
/// <param name="CheckpointsVerified">Signed checkpoints matched by a line.</param>
/// <param name="UnauthenticatedFrom">First seq of the tail no signed checkpoint vouches for (accepted only when asked to); null when all is covered.</param>
/// <param name="UnauthenticatedTo">Last seq of that tail.</param>
public sealed record ExportVerificationResult(
    bool Ok, long LinesVerified, long? FirstBadLine, string? Problem, int CheckpointsVerified,
    long? UnauthenticatedFrom = null, long? UnauthenticatedTo = null);
