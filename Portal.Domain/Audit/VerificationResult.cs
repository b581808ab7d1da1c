namespace Portal.Domain.Audit;

/// <summary>Outcome of verifying a stretch of the chain.</summary>
/// <param name="Ok">True when no problem was found.</param>
/// <param name="Verified">Rows that passed every check, in this run.</param>
/// <param name="FirstBadSeq">Seq of the first row (or checkpoint) with a problem.</param>
/// <param name="Problem">What was wrong, starting with one of the <see cref="AuditProblem"/> phrases.</param>
/// <param name="HeadHash">Hash of the last good row: the starting point for the next incremental run.</param>
/// <param name="HeadSeq">Seq of the last good row (the start seq if none passed).</param>
public sealed record VerificationResult(bool Ok, long Verified, long? FirstBadSeq, string? Problem, byte[] HeadHash, long HeadSeq);
