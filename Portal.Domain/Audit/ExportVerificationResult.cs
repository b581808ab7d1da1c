namespace Portal.Domain.Audit;

/// <summary>Outcome of verifying an export file against its manifest.</summary>
/// <param name="LinesVerified">Lines that passed every check.</param>
/// <param name="FirstBadLine">1-based line of the first problem; null for problems of the manifest as a whole.</param>
/// <param name="CheckpointsVerified">Signed checkpoints matched by a line: zero means nothing vouches for the file's content.</param>
public sealed record ExportVerificationResult(bool Ok, long LinesVerified, long? FirstBadLine, string? Problem, int CheckpointsVerified);
