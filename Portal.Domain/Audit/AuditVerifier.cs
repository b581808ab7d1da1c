using System.Security.Cryptography;
using System.Text.Json;

namespace Portal.Domain.Audit;

/// <summary>
/// Verifies stored rows incrementally, in seq order, possibly across several batches: each row's hash, its columns
/// against its canonical bytes, its link to the previous row, strictly increasing seq (gaps allowed) and the signed
/// checkpoints. Stops at the first problem. Not thread-safe; use one instance per verification run.
/// </summary>
/// <remarks>
/// Rows given several at a time are checked in two passes: what needs only the row itself (its hash, its columns or
/// link fields against its canonical bytes) on every core, then links and checkpoints in seq order. The second pass
/// takes the first pass's verdicts in the same order a single row is checked, so the first problem and its wording
/// do not depend on how the rows were batched.
/// </remarks>
/// <example>
/// <code>
/// var verifier = new AuditVerifier(new AuditVerifierOptions { StartSeq = last.Seq, StartHash = last.Hash });
/// foreach (var batch in batches) if (!verifier.Append(batch)) break;
/// var result = verifier.Complete();
/// </code>
/// </example>
public sealed class AuditVerifier
{
    /// <summary>Rows checked per parallel pass: large enough to amortise the fan-out, small enough to bound memory.</summary>
    private const int PassSize = 1024;

    /// <summary>Below this many rows a pass runs on the calling thread: fanning out would cost more than it saves.</summary>
    private const int ParallelThreshold = 64;

    private readonly bool compareColumns;
    private readonly Queue<SignedCheckpoint> pendingCheckpoints;
    private readonly byte[] headHash = new byte[AuditChain.HashSize];
    private long headSeq;
    private long verified;
    private long? firstBadSeq;
    private string? problem;

    public AuditVerifier(AuditVerifierOptions? options = null)
    {
        options ??= new AuditVerifierOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(options.StartSeq);
        compareColumns = options.CompareColumns;
        headSeq = options.StartSeq;
        if (options.StartSeq == 0)
        {
            AuditChain.GenesisHash.CopyTo(headHash);
        }
        else if (options.StartHash is { Length: AuditChain.HashSize } startHash)
        {
            startHash.CopyTo(headHash, 0);
        }
        else
        {
            throw new ArgumentException($"A start seq needs the {AuditChain.HashSize}-byte hash of that row.", nameof(options));
        }

        if (options.Checkpoints.Count > 0 && options.CheckpointVerifier is null && options.SignatureProblem is null)
        {
            throw new ArgumentException("Checkpoints need a CheckpointVerifier or a SignatureProblem check.", nameof(options));
        }

        pendingCheckpoints = new Queue<SignedCheckpoint>(
            options.Checkpoints.Where(c => c.Seq > headSeq).OrderBy(c => c.Seq));
        CheckCheckpointsUpFront(options);
    }

    /// <summary>Where verification stands now; pending checkpoints are not yet reported as missing.</summary>
    public VerificationResult Result => new(problem is null, verified, firstBadSeq, problem, headHash.ToArray(), headSeq);

    /// <summary>Verifies rows from a whole chain or stretch and reports checkpoints that no row reached.</summary>
    public static VerificationResult Verify(IEnumerable<AuditRow> rows, AuditVerifierOptions? options = null)
    {
        var verifier = new AuditVerifier(options);
        verifier.Append(rows);
        return verifier.Complete();
    }

    /// <summary>Verifies the next row. Returns false once a problem has been found (see <see cref="Result"/>).</summary>
    public bool Append(in AuditRow row) => Append(row, CheckRowAlone(row));

    /// <summary>Verifies rows until the first problem; returns false if there was one.</summary>
    public bool Append(IEnumerable<AuditRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows is AuditRow[] array)
        {
            return Append(array);
        }

        var pass = new List<AuditRow>(PassSize);
        foreach (var row in rows)
        {
            pass.Add(row);
            if (pass.Count == PassSize)
            {
                if (!Append(pass.ToArray()))
                {
                    return false;
                }

                pass.Clear();
            }
        }

        return Append(pass.ToArray());
    }

    /// <summary>Verifies rows until the first problem; returns false if there was one.</summary>
    public bool Append(AuditRow[] rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var verdicts = new RowVerdict[Math.Min(rows.Length, PassSize)];
        for (var start = 0; start < rows.Length && problem is null; start += PassSize)
        {
            var count = Math.Min(PassSize, rows.Length - start);
            CheckRowsAlone(rows, start, count, verdicts);
            for (var i = 0; i < count; i++)
            {
                if (!Append(rows[start + i], verdicts[i]))
                {
                    return false;
                }
            }
        }

        return problem is null;
    }

    private void CheckRowsAlone(AuditRow[] rows, int start, int count, RowVerdict[] verdicts)
    {
        if (count < ParallelThreshold || Environment.ProcessorCount == 1)
        {
            for (var i = 0; i < count; i++)
            {
                verdicts[i] = CheckRowAlone(rows[start + i]);
            }

            return;
        }

        // One slice per core: per-row work is a microsecond or so, too little to schedule row by row.
        var slices = Math.Min(Environment.ProcessorCount, count / (ParallelThreshold / 2));
        Parallel.For(0, slices, slice =>
        {
            var end = count * (slice + 1) / slices;
            for (var i = count * slice / slices; i < end; i++)
            {
                verdicts[i] = CheckRowAlone(rows[start + i]);
            }
        });
    }

    /// <summary>The checks that need only the row itself, so any thread may make them, in any order.</summary>
    private RowVerdict CheckRowAlone(in AuditRow row)
    {
        Span<byte> computedHash = stackalloc byte[AuditChain.HashSize];
        SHA256.HashData(row.Canonical, computedHash);
        if (!computedHash.SequenceEqual(row.Hash))
        {
            return RowVerdict.HashMismatch;
        }

        // Links are followed through the prev column only once it is known to be the prev inside the hashed bytes:
        // otherwise a rewritten row plus an edited prev column on its successor would pass.
        return (compareColumns ? ResealedColumnsEqualCanonical(row) : AuditEnvelope.HasLinkFields(row.Canonical, row.Seq, row.PrevHash))
            ? RowVerdict.Intact
            : RowVerdict.ColumnsDiffer;
    }

    private bool Append(in AuditRow row, RowVerdict verdict)
    {
        if (problem is not null)
        {
            return false;
        }

        if (row.Seq <= headSeq)
        {
            return Fail(row.Seq, $"{AuditProblem.SeqNotIncreasing} at seq {row.Seq}: it follows seq {headSeq}");
        }

        if (pendingCheckpoints.TryPeek(out var skipped) && skipped.Seq < row.Seq)
        {
            return Fail(skipped.Seq, $"{AuditProblem.MissingRow} at seq {skipped.Seq}: a checkpoint names it but the chain goes from {headSeq} to {row.Seq}");
        }

        if (verdict == RowVerdict.HashMismatch)
        {
            return Fail(row.Seq, $"{AuditProblem.HashMismatch} at seq {row.Seq}");
        }

        if (verdict == RowVerdict.ColumnsDiffer)
        {
            return Fail(row.Seq, $"{AuditProblem.ColumnsDiffer} at seq {row.Seq}");
        }

        if (!row.PrevHash.AsSpan().SequenceEqual(headHash))
        {
            return Fail(row.Seq, $"{AuditProblem.BrokenLink} at seq {row.Seq}: its prev is not the hash of seq {headSeq}");
        }

        while (pendingCheckpoints.TryPeek(out var checkpoint) && checkpoint.Seq == row.Seq)
        {
            pendingCheckpoints.Dequeue();
            if (!checkpoint.Hash.AsSpan().SequenceEqual(row.Hash))
            {
                return Fail(row.Seq, $"{AuditProblem.CheckpointMismatch} at seq {row.Seq}");
            }
        }

        headSeq = row.Seq;
        row.Hash.CopyTo(headHash, 0);
        verified++;
        return true;
    }

    /// <summary>
    /// Ends the run: a checkpoint beyond the last row means rows it vouches for are gone (e.g. a truncated tail), so
    /// pass only checkpoints up to the seq the rows were read to.
    /// </summary>
    public VerificationResult Complete()
    {
        if (problem is null && pendingCheckpoints.TryPeek(out var unreached))
        {
            // Named by the first row gone, as a deleted row in the middle is.
            Fail(headSeq + 1, $"{AuditProblem.MissingRow} at seq {headSeq + 1}: the checkpoint at seq {unreached.Seq} vouches for seqs {headSeq + 1}..{unreached.Seq} but the chain ends at seq {headSeq}");
        }

        return Result;
    }

    private void CheckCheckpointsUpFront(AuditVerifierOptions options)
    {
        foreach (var checkpoint in options.Checkpoints.OrderBy(c => c.Seq))
        {
            var signatureProblem = options.SignatureProblem is { } check
                ? check(checkpoint)
                : options.CheckpointVerifier!.Verify(checkpoint) ? null : "the signature does not verify";
            if (signatureProblem is not null)
            {
                Fail(checkpoint.Seq, $"{AuditProblem.CheckpointSignatureInvalid} at seq {checkpoint.Seq}: {signatureProblem}");
                return;
            }

            // A checkpoint on the start row vouches for the hash the run starts from.
            if (checkpoint.Seq == headSeq && !checkpoint.Hash.AsSpan().SequenceEqual(headHash))
            {
                Fail(checkpoint.Seq, $"{AuditProblem.CheckpointMismatch} at seq {checkpoint.Seq}");
                return;
            }
        }
    }

    /// <summary>
    /// The columns match the canonical bytes when sealing them again reproduces those bytes exactly; this also
    /// checks seq and prev, and that the bytes are canonical.
    /// </summary>
    private static bool ResealedColumnsEqualCanonical(in AuditRow row)
    {
        if (row.PrevHash.Length != AuditChain.HashSize)
        {
            return false;
        }

        try
        {
            using var payload = JsonDocument.Parse(row.Payload);
            var writer = CanonicalJsonWriter.Rent();
            AuditEnvelope.Write(
                writer, row.Seq, AuditTime.Normalize(row.Time), row.Actor, row.Type, row.Subject, payload.RootElement, row.PrevHash);
            return writer.Written.SequenceEqual(row.Canonical);
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            return false;
        }
    }

    private bool Fail(long seq, string description)
    {
        firstBadSeq = seq;
        problem = description;
        return false;
    }

    private enum RowVerdict : byte
    {
        Intact,
        HashMismatch,
        ColumnsDiffer,
    }
}
