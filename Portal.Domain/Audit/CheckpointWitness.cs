using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Portal.Domain.Audit;

/// <summary>
/// A witness's cosignature on a checkpoint, after c2sp.org/tlog-cosignature: the witness signs
/// <c>cosignature/v1\ntime &lt;unix seconds&gt;\n</c> followed by the checkpoint's text, and the signature line is
/// <c>— &lt;witness name&gt; base64(key id (4 bytes) ‖ timestamp (8 bytes, big-endian) ‖ signature)</c>. The
/// signature is ECDSA P-256 (DER), as the log's own, where C2SP uses Ed25519 (not built into .NET); see docs/audit-trail.md.
/// </summary>
public static class WitnessCosignature
{
    private static byte[] Message(string checkpointText, long unixSeconds) =>
        Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"cosignature/v1\ntime {unixSeconds}\n{checkpointText}"));

    /// <summary>The base64 part of the cosignature line the witness <paramref name="witnessName"/> adds to the checkpoint.</summary>
    public static string Sign(CheckpointSigner witnessKey, string witnessName, string checkpointText, DateTimeOffset time)
    {
        ArgumentNullException.ThrowIfNull(witnessKey);
        var seconds = time.ToUnixTimeSeconds();
        var keyId = CheckpointNote.KeyId(witnessName, witnessKey.PublicKeySpki());
        var signature = witnessKey.SignData(Message(checkpointText, seconds));
        var line = new byte[4 + 8 + signature.Length];
        keyId.CopyTo(line, 0);
        BinaryPrimitives.WriteInt64BigEndian(line.AsSpan(4), seconds);
        signature.CopyTo(line, 12);
        return Convert.ToBase64String(line);
    }

    /// <summary>Whether <paramref name="signatureBase64"/> is <paramref name="witnessKey"/>'s cosignature of <paramref name="checkpointText"/>; its time when it is.</summary>
    public static bool TryVerify(CheckpointVerifier witnessKey, string witnessName, string checkpointText, string signatureBase64, out DateTimeOffset time)
    {
        ArgumentNullException.ThrowIfNull(witnessKey);
        time = default;
        byte[] line;
        try
        {
            line = Convert.FromBase64String(signatureBase64 ?? "");
        }
        catch (FormatException)
        {
            return false;
        }

        if (line.Length <= 12 || !line.AsSpan(0, 4).SequenceEqual(witnessKey.NoteKeyId(witnessName))) return false;
        var seconds = BinaryPrimitives.ReadInt64BigEndian(line.AsSpan(4));
        if (seconds is < 0 or > 253402300799) return false;
        if (!witnessKey.VerifyData(Message(checkpointText, seconds), line.AsSpan(12))) return false;
        time = DateTimeOffset.FromUnixTimeSeconds(seconds);
        return true;
    }
}

/// <summary>
/// The body of a c2sp.org/tlog-witness <c>add-checkpoint</c> request: <c>old &lt;size&gt;</c>, the consistency proof
/// from that size to the checkpoint's (one base64 hash per line), an empty line, then the signed checkpoint note.
/// </summary>
public sealed record AddCheckpointRequest(long OldSize, IReadOnlyList<byte[]> Proof, string Note)
{
    private const int MaxProofLines = 63;

    public string Format() =>
        string.Create(CultureInfo.InvariantCulture, $"old {OldSize}\n") + string.Concat(Proof.Select(p => Convert.ToBase64String(p) + "\n")) + "\n" + Note;

    /// <summary>Null when <paramref name="body"/> is not such a request.</summary>
    public static AddCheckpointRequest? Parse(string body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var split = body.IndexOf("\n\n", StringComparison.Ordinal);
        if (split < 0) return null;
        var lines = body[..split].Split('\n');
        if (!lines[0].StartsWith("old ", StringComparison.Ordinal)
            || !long.TryParse(lines[0][4..], NumberStyles.None, CultureInfo.InvariantCulture, out var oldSize)
            || lines[0][4..] != oldSize.ToString(CultureInfo.InvariantCulture)
            || lines.Length - 1 > MaxProofLines) return null;
        var proof = new List<byte[]>();
        foreach (var line in lines.Skip(1))
        {
            var hash = new byte[MerkleTree.HashSize];
            if (!Convert.TryFromBase64String(line, hash, out var written) || written != MerkleTree.HashSize) return null;
            proof.Add(hash);
        }

        return new AddCheckpointRequest(oldSize, proof, body[(split + 2)..]);
    }
}

/// <summary>What a witness last cosigned for one log: the tree it vouches every later checkpoint extends.</summary>
public sealed record WitnessedTree(string Origin, long Size, byte[] RootHash);

/// <summary>The answer to an add-checkpoint request, with the HTTP status c2sp.org/tlog-witness gives it.</summary>
public sealed record WitnessDecision(int Status, string Detail, SignedCheckpoint? Checkpoint = null, string? Cosignature = null, long? LatestSize = null)
{
    public bool Cosigned => Status == 200;
}

/// <summary>
/// The rules of a witness (c2sp.org/tlog-witness): it cosigns a checkpoint of a log it knows, signed by that log's
/// key, only if the request's old size is the size it last cosigned and the consistency proof shows that tree is a
/// prefix of the new one. So a log cannot show it one history and later another: a removed or rewritten tail is
/// refused, however validly the log's (possibly stolen) key signed it. Pure: the caller stores what was cosigned.
/// </summary>
public sealed class CheckpointWitness(string name, CheckpointSigner key, IReadOnlyDictionary<string, CheckpointVerifier> logs)
{
    public string Name { get; } = name;

    public WitnessDecision Decide(AddCheckpointRequest request, WitnessedTree? latest, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(request);
        var checkpoint = CheckpointNote.Parse(request.Note);
        if (checkpoint is null) return new(400, "The checkpoint is not a signed checkpoint note.");
        if (!logs.TryGetValue(checkpoint.Origin!, out var logKey)) return new(404, $"This witness does not know the log '{checkpoint.Origin}'.");
        if (!logKey.Verify(checkpoint)) return new(403, $"The checkpoint is not signed by the key of '{checkpoint.Origin}'.");
        if (request.OldSize > checkpoint.Seq) return new(400, $"old {request.OldSize} is larger than the checkpoint's size {checkpoint.Seq}.");
        var latestSize = latest?.Size ?? 0;
        if (request.OldSize != latestSize)
            return new(409, $"The latest size this witness cosigned for '{checkpoint.Origin}' is {latestSize}, not {request.OldSize}.", LatestSize: latestSize);
        var latestRoot = latest?.RootHash ?? MerkleTree.EmptyRoot();
        if (request.OldSize == checkpoint.Seq && !latestRoot.AsSpan().SequenceEqual(checkpoint.RootHash))
            return new(409, $"A different tree of size {latestSize} was cosigned: the log forked.", LatestSize: latestSize);
        if (!MerkleTree.VerifyConsistency(request.OldSize, checkpoint.Seq, latestRoot, checkpoint.RootHash, request.Proof))
            return new(422, $"The consistency proof does not show the cosigned tree of size {latestSize} is a prefix of the tree of size {checkpoint.Seq}.");
        var text = CheckpointNote.Text(checkpoint);
        return new(200, "cosigned", checkpoint, WitnessCosignature.Sign(key, Name, text, now));
    }
}
