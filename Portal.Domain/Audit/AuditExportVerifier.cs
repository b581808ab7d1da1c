using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Portal.Domain.Audit;

/// <summary>
/// Verifies an audit export (<see cref="AuditExportFormat"/>) offline, without the database, with only the public
/// key(s): the manifest's signature; every line's hash and fields; for a contiguous export the links between
/// consecutive lines, the manifest's range, count and end hashes, and the manifest's checkpoints (signature, and the
/// hash of the line at their seq); for a filtered export every line's inclusion proof against the manifest's signed
/// tree head. Reads line by line in constant memory.
/// </summary>
/// <remarks>
/// The first line's prev points outside the file and is not checked. Only checkpoints tie the file to the real
/// chain, so the last record must be covered by one (a checkpoint at its seq, or an inclusion proof against a signed
/// tree head); otherwise verification fails, unless <c>allowUnauthenticatedTail</c>, and the result names the
/// records no signature vouches for.
/// </remarks>
public static class AuditExportVerifier
{
    /// <summary>Verifies against a signed manifest (<see cref="AuditExportManifest.ToSignedNote"/>) and the PEM public keys the log has used.</summary>
    public static ExportVerificationResult Verify(TextReader lines, string signedManifest, IReadOnlyList<string> publicKeyPems, bool allowUnauthenticatedTail = false)
    {
        ArgumentNullException.ThrowIfNull(publicKeyPems);
        var keys = publicKeyPems.Select(CheckpointVerifier.FromPublicKeyPem).ToList();
        try
        {
            var (manifest, problem) = AuditExportManifest.ParseSigned(signedManifest, keys);
            return manifest is null
                ? new ExportVerificationResult(false, 0, null, problem, 0)
                : Verify(lines, manifest, keys, allowUnauthenticatedTail);
        }
        finally
        {
            keys.ForEach(k => k.Dispose());
        }
    }

    /// <summary>Verifies against a manifest whose own signature the caller has checked (or does not need).</summary>
    public static ExportVerificationResult Verify(TextReader lines, AuditExportManifest manifest, IReadOnlyList<CheckpointVerifier> keys, bool allowUnauthenticatedTail = false)
    {
        ArgumentNullException.ThrowIfNull(lines);
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(keys);
        return new Run(manifest, keys, allowUnauthenticatedTail).Verify(lines);
    }

    private sealed class Run(AuditExportManifest manifest, IReadOnlyList<CheckpointVerifier> keys, bool allowUnauthenticatedTail)
    {
        // Bits recording which line members were seen.
        private const int SeqMember = 1;
        private const int HashMember = 2;
        private const int PrevMember = 4;
        private const int CanonicalMember = 8;
        private const int ProofMember = 16;
        private const int AllMembers = SeqMember | HashMember | PrevMember | CanonicalMember;

        private readonly bool filtered = manifest.Format == AuditExportFormat.ProofsFormat;
        private readonly Queue<SignedCheckpoint> pendingCheckpoints = new(manifest.Checkpoints.OrderBy(c => c.Seq));
        private readonly byte[] previousHash = new byte[AuditChain.HashSize];
        private readonly List<byte[]> proof = [];
        private byte[] utf8Line = new byte[1024];
        private byte[] canonical = new byte[1024];
        private byte[] lastLeafHash = [];
        private long lineNumber;
        private long previousSeq;
        private long lastCheckpointSeq;
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

            if (CheckManifestAtEnd() is { } endProblem)
            {
                return Failure(null, endProblem);
            }

            if (lineNumber == 0 || filtered || lastCheckpointSeq == previousSeq || TailProven())
            {
                return new ExportVerificationResult(true, lineNumber, null, null, checkpointsVerified);
            }

            var unauthenticatedFrom = Math.Max(lastCheckpointSeq + 1, manifest.From);
            return allowUnauthenticatedTail
                ? new ExportVerificationResult(true, lineNumber, null, null, checkpointsVerified, unauthenticatedFrom, previousSeq)
                : new ExportVerificationResult(false, lineNumber, null,
                    $"the last exported record (seq {previousSeq}) is not covered by a verified checkpoint: nothing vouches for seqs {unauthenticatedFrom}..{previousSeq}",
                    checkpointsVerified, unauthenticatedFrom, previousSeq);
        }

        /// <summary>Whether the manifest's tree head holds the last record: then the links vouch for every line before it.</summary>
        private bool TailProven() =>
            manifest.TreeHead is { } head && manifest.TailProof is { } tailProof && head.Seq >= previousSeq
            && MerkleTree.VerifyInclusion(previousSeq - 1, head.Seq, lastLeafHash, tailProof, head.RootHash);

        /// <summary>A note checkpoint must be signed by a known key (an unknown key id fails); a legacy one by the manifest's key.</summary>
        private string? CheckSignature(SignedCheckpoint checkpoint)
        {
            if (checkpoint.IsNote)
            {
                var key = keys.FirstOrDefault(k => k.IsKeyOf(checkpoint.Origin!, checkpoint.Signature));
                if (key is null)
                {
                    return $"{AuditProblem.CheckpointSignatureInvalid} at seq {checkpoint.Seq}: signed by an unknown key (not one of the given public keys)";
                }

                return key.Verify(checkpoint) ? null : $"{AuditProblem.CheckpointSignatureInvalid} at seq {checkpoint.Seq}";
            }

            var legacyKey = keys.FirstOrDefault(k => k.KeyId == manifest.PublicKeyId);
            return legacyKey is not null && legacyKey.Verify(checkpoint) ? null : $"{AuditProblem.CheckpointSignatureInvalid} at seq {checkpoint.Seq}";
        }

        private string? CheckManifestUpFront()
        {
            if (keys.All(k => k.KeyId != manifest.PublicKeyId))
            {
                return $"public key id mismatch: the manifest names {manifest.PublicKeyId}, the given keys are {string.Join(", ", keys.Select(k => k.KeyId))}";
            }

            foreach (var checkpoint in pendingCheckpoints)
            {
                if (CheckSignature(checkpoint) is { } problem)
                {
                    return problem;
                }

                if (checkpoint.Seq < manifest.From || checkpoint.Seq > manifest.To)
                {
                    return $"checkpoint at seq {checkpoint.Seq} lies outside the export's seqs {manifest.From}..{manifest.To}";
                }
            }

            if (manifest.TreeHead is { } head)
            {
                if (!head.IsNote || CheckSignature(head) is not null)
                {
                    return $"the manifest's tree head (size {head.Seq}) is not validly signed: {CheckSignature(head) ?? "not a checkpoint note"}";
                }

                if (head.Seq < manifest.To)
                {
                    return $"the manifest's tree head (size {head.Seq}) does not cover the export's last seq {manifest.To}";
                }
            }
            else if (filtered && manifest.Count > 0)
            {
                return "a filtered export needs a signed tree head to prove its records against";
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

            if (filtered)
            {
                return CheckProvenLine(seq, hash, prevHash, canonicalBytes);
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
                lastCheckpointSeq = seq;
            }

            previousSeq = seq;
            hash.CopyTo(previousHash);
            lastLeafHash = MerkleTree.LeafHash(canonicalBytes);
            return null;
        }

        /// <summary>A line of a filtered export: its own hash and fields, and its inclusion proof against the signed tree head.</summary>
        private string? CheckProvenLine(long seq, ReadOnlySpan<byte> hash, ReadOnlySpan<byte> prevHash, ReadOnlySpan<byte> canonicalBytes)
        {
            if (seq < manifest.From || seq > manifest.To)
            {
                return $"seq {seq} lies outside the export's seqs {manifest.From}..{manifest.To}";
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

            var head = manifest.TreeHead!;
            if (!MerkleTree.VerifyInclusion(seq - 1, head.Seq, MerkleTree.LeafHash(canonicalBytes), proof, head.RootHash))
            {
                return $"inclusion proof fails (seq {seq}): the record is not in the signed tree of size {head.Seq}";
            }

            previousSeq = seq;
            return null;
        }

        private string? CheckManifestAtEnd()
        {
            if (lineNumber != manifest.Count)
            {
                return $"manifest count {manifest.Count} but the file has {lineNumber} lines";
            }

            if (filtered)
            {
                return null;
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
            proof.Clear();
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
                        ProofMember => filtered && TryReadProof(ref reader),
                        _ => IsPlainString(ref reader) && TryDecodeCanonical(reader.ValueSpan, out canonicalBytes),
                    };
                    if (!valid)
                    {
                        return false;
                    }
                }

                return reader.TokenType == JsonTokenType.EndObject && !reader.Read() && seen == (filtered ? AllMembers | ProofMember : AllMembers);
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
            : reader.ValueTextEquals("proof"u8) ? ProofMember
            : 0;

        private bool TryReadProof(ref Utf8JsonReader reader)
        {
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.String)
            {
                var hash = new byte[MerkleTree.HashSize];
                if (reader.ValueIsEscaped || Base64.DecodeFromUtf8(reader.ValueSpan, hash, out _, out var written) != OperationStatus.Done
                    || written != MerkleTree.HashSize)
                {
                    return false;
                }

                proof.Add(hash);
            }

            return reader.TokenType == JsonTokenType.EndArray;
        }

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
