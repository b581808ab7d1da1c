using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Portal.Domain.Audit;

/// <summary>
/// Verifies an audit export (<see cref="AuditExportFormat"/>) offline, without the database: every line's hash and
/// fields, the links between consecutive lines, the manifest's range, count and end hashes, and the manifest's
/// checkpoints (signature, and the hash of the line at their seq). Reads line by line in constant memory.
/// </summary>
/// <remarks>
/// The first line's prev points outside the file and is not checked. Only checkpoints tie the file to the real
/// chain: check <see cref="ExportVerificationResult.CheckpointsVerified"/>.
/// </remarks>
public static class AuditExportVerifier
{
    public static ExportVerificationResult Verify(TextReader lines, string manifestJson, string publicKeyPem)
    {
        AuditExportManifest manifest;
        try
        {
            manifest = AuditExportManifest.Parse(manifestJson);
        }
        catch (FormatException e)
        {
            return new ExportVerificationResult(false, 0, null, e.Message, 0);
        }

        return Verify(lines, manifest, publicKeyPem);
    }

    public static ExportVerificationResult Verify(TextReader lines, AuditExportManifest manifest, string publicKeyPem)
    {
        ArgumentNullException.ThrowIfNull(lines);
        ArgumentNullException.ThrowIfNull(manifest);
        using var keys = CheckpointVerifier.FromPublicKeyPem(publicKeyPem);
        return new Run(manifest, keys).Verify(lines);
    }

    private sealed class Run(AuditExportManifest manifest, CheckpointVerifier keys)
    {
        // Bits recording which line members were seen.
        private const int SeqMember = 1;
        private const int HashMember = 2;
        private const int PrevMember = 4;
        private const int CanonicalMember = 8;
        private const int AllMembers = SeqMember | HashMember | PrevMember | CanonicalMember;

        private readonly Queue<SignedCheckpoint> pendingCheckpoints = new(manifest.Checkpoints.OrderBy(c => c.Seq));
        private readonly byte[] previousHash = new byte[AuditChain.HashSize];
        private byte[] utf8Line = new byte[1024];
        private byte[] canonical = new byte[1024];
        private long lineNumber;
        private long previousSeq;
        private int checkpointsVerified;

        public ExportVerificationResult Verify(TextReader lines)
        {
            if (CheckManifestUpFront() is { } manifestProblem)
            {
                return Failure(null, manifestProblem);
            }

            while (lines.ReadLine() is { } line)
            {
                lineNumber++;
                if (CheckLine(line) is { } lineProblem)
                {
                    return Failure(lineNumber, $"{lineProblem} on line {lineNumber}");
                }
            }

            return CheckManifestAtEnd() is { } endProblem
                ? Failure(null, endProblem)
                : new ExportVerificationResult(true, lineNumber, null, null, checkpointsVerified);
        }

        private string? CheckManifestUpFront()
        {
            if (manifest.PublicKeyId != keys.KeyId)
            {
                return $"public key id mismatch: the manifest names {manifest.PublicKeyId}, the given key is {keys.KeyId}";
            }

            foreach (var checkpoint in pendingCheckpoints)
            {
                if (!keys.Verify(checkpoint))
                {
                    return $"{AuditProblem.CheckpointSignatureInvalid} at seq {checkpoint.Seq}";
                }

                if (checkpoint.Seq < manifest.From || checkpoint.Seq > manifest.To)
                {
                    return $"checkpoint at seq {checkpoint.Seq} lies outside the export's seqs {manifest.From}..{manifest.To}";
                }
            }

            return null;
        }

        private string? CheckLine(string line)
        {
            Span<byte> hash = stackalloc byte[AuditChain.HashSize];
            Span<byte> prevHash = stackalloc byte[AuditChain.HashSize];
            if (!TryParseLine(line, out var seq, hash, prevHash, out var canonicalBytes))
            {
                return "malformed line";
            }

            if (lineNumber > 1 && seq <= previousSeq)
            {
                return $"{AuditProblem.SeqNotIncreasing} (seq {seq} follows seq {previousSeq})";
            }

            if (pendingCheckpoints.TryPeek(out var skipped) && skipped.Seq < seq)
            {
                return $"{AuditProblem.MissingRow} for the checkpoint at seq {skipped.Seq}";
            }

            Span<byte> computedHash = stackalloc byte[AuditChain.HashSize];
            SHA256.HashData(canonicalBytes, computedHash);
            if (!computedHash.SequenceEqual(hash))
            {
                return $"{AuditProblem.HashMismatch} (seq {seq})";
            }

            if (!AuditEnvelope.HasLinkFields(canonicalBytes, seq, prevHash))
            {
                return $"line fields differ from canonical bytes (seq {seq})";
            }

            if (lineNumber == 1)
            {
                if (seq != manifest.From || manifest.FirstHash is null || !hash.SequenceEqual(manifest.FirstHash))
                {
                    return $"first record (seq {seq}) is not the manifest's from/firstHash";
                }
            }
            else if (!prevHash.SequenceEqual(previousHash))
            {
                return $"{AuditProblem.BrokenLink} (seq {seq}: its prev is not the hash of seq {previousSeq})";
            }

            while (pendingCheckpoints.TryPeek(out var checkpoint) && checkpoint.Seq == seq)
            {
                pendingCheckpoints.Dequeue();
                if (!checkpoint.Hash.AsSpan().SequenceEqual(hash))
                {
                    return $"{AuditProblem.CheckpointMismatch} at seq {seq}";
                }

                checkpointsVerified++;
            }

            previousSeq = seq;
            hash.CopyTo(previousHash);
            return null;
        }

        private string? CheckManifestAtEnd()
        {
            if (lineNumber != manifest.Count)
            {
                return $"manifest count {manifest.Count} but the file has {lineNumber} lines";
            }

            if (lineNumber > 0
                && (previousSeq != manifest.To || manifest.LastHash is null || !previousHash.AsSpan().SequenceEqual(manifest.LastHash)))
            {
                return $"last record (seq {previousSeq}) is not the manifest's to/lastHash";
            }

            return pendingCheckpoints.TryPeek(out var unreached)
                ? $"{AuditProblem.MissingRow} for the checkpoint at seq {unreached.Seq}"
                : null;
        }

        private bool TryParseLine(string line, out long seq, Span<byte> hash, Span<byte> prevHash, out ReadOnlySpan<byte> canonicalBytes)
        {
            seq = 0;
            canonicalBytes = default;
            var utf8 = ToUtf8(line);
            var seen = 0;
            try
            {
                var reader = new Utf8JsonReader(utf8);
                if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                {
                    return false;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var member = MemberOf(ref reader);
                    if (member == 0 || (seen & member) != 0 || !reader.Read())
                    {
                        return false;
                    }

                    seen |= member;
                    var valid = member switch
                    {
                        SeqMember => reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out seq),
                        HashMember => IsPlainString(ref reader) && Hex.TryParseLower(reader.ValueSpan, hash),
                        PrevMember => IsPlainString(ref reader) && Hex.TryParseLower(reader.ValueSpan, prevHash),
                        _ => IsPlainString(ref reader) && TryDecodeCanonical(reader.ValueSpan, out canonicalBytes),
                    };
                    if (!valid)
                    {
                        return false;
                    }
                }

                return reader.TokenType == JsonTokenType.EndObject && !reader.Read() && seen == AllMembers;
            }
            catch (JsonException)
            {
                return false;
            }
        }

        private static int MemberOf(ref Utf8JsonReader reader) =>
            reader.ValueTextEquals("seq"u8) ? SeqMember
            : reader.ValueTextEquals("hash"u8) ? HashMember
            : reader.ValueTextEquals("prev"u8) ? PrevMember
            : reader.ValueTextEquals("canonical"u8) ? CanonicalMember
            : 0;

        // Hex and base64 never need escapes; an escaped one would be a second spelling of the same line.
        private static bool IsPlainString(ref Utf8JsonReader reader) =>
            reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped;

        private ReadOnlySpan<byte> ToUtf8(string line)
        {
            var size = Encoding.UTF8.GetMaxByteCount(line.Length);
            if (utf8Line.Length < size)
            {
                utf8Line = new byte[size];
            }

            return utf8Line.AsSpan(0, Encoding.UTF8.GetBytes(line, utf8Line));
        }

        private bool TryDecodeCanonical(ReadOnlySpan<byte> base64, out ReadOnlySpan<byte> decoded)
        {
            var size = Base64.GetMaxDecodedFromUtf8Length(base64.Length);
            if (canonical.Length < size)
            {
                canonical = new byte[size];
            }

            var status = Base64.DecodeFromUtf8(base64, canonical, out _, out var written);
            decoded = canonical.AsSpan(0, written);
            return status == OperationStatus.Done;
        }

        private ExportVerificationResult Failure(long? line, string problem) =>
            new(false, line is null ? lineNumber : line.Value - 1, line, problem, checkpointsVerified);
    }
}
