using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Portal.Domain.Audit;

/// <summary>
/// Checkpoints as C2SP signed notes (c2sp.org/tlog-checkpoint, c2sp.org/signed-note):
/// <code>
/// &lt;origin&gt;
/// &lt;tree size&gt;
/// &lt;base64 RFC 9162 root hash&gt;
/// chain &lt;base64 chain hash of record tree size&gt;
/// time &lt;yyyy-MM-ddTHH:mm:ss.ffffffZ&gt;
///
/// — &lt;origin&gt; &lt;base64(key id (4 bytes) ‖ DER ECDSA P-256/SHA-256 signature over the text)&gt;
/// </code>
/// The two extension lines keep the hash chain pinned too, so an incremental verification can start from a
/// checkpoint without the tree. Signature type 0x02 (ECDSA); key id = SHA-256(key name ‖ 0x0A ‖ 0x02 ‖ SPKI DER)[:4].
/// </summary>
public static class CheckpointNote
{
    public const byte EcdsaSignatureType = 0x02;
    private const string SignaturePrefix = "\u2014 ";

    /// <summary>The signed text of a checkpoint (ends in a newline).</summary>
    public static string Text(string origin, long size, ReadOnlySpan<byte> rootHash, ReadOnlySpan<byte> chainHash, DateTimeOffset time) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{origin}\n{size}\n{Convert.ToBase64String(rootHash)}\nchain {Convert.ToBase64String(chainHash)}\ntime {AuditTime.ToText(AuditTime.Normalize(time))}\n");

    public static string Text(SignedCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        if (checkpoint.Origin is null || checkpoint.RootHash is null) throw new InvalidOperationException("A legacy checkpoint is not a note.");
        return Text(checkpoint.Origin, checkpoint.Seq, checkpoint.RootHash, checkpoint.Hash, checkpoint.Time);
    }

    public static string Format(SignedCheckpoint checkpoint) =>
        Text(checkpoint) + "\n" + SignaturePrefix + checkpoint.Origin + " " + checkpoint.Signature + "\n";

    /// <summary>Key id of an ECDSA key under <paramref name="keyName"/>.</summary>
    public static byte[] KeyId(string keyName, ReadOnlySpan<byte> spkiDer)
    {
        ArgumentNullException.ThrowIfNull(keyName);
        var name = Encoding.UTF8.GetBytes(keyName);
        var input = new byte[name.Length + 2 + spkiDer.Length];
        name.CopyTo(input, 0);
        input[name.Length] = 0x0A;
        input[name.Length + 1] = EcdsaSignatureType;
        spkiDer.CopyTo(input.AsSpan(name.Length + 2));
        return SHA256.HashData(input)[..4];
    }

    /// <summary>Splits a signed note into its text (with the final newline) and its signature lines (key name, base64).</summary>
    public static bool TrySplit(string note, out string text, out List<(string KeyName, string Signature)> signatures)
    {
        ArgumentNullException.ThrowIfNull(note);
        text = "";
        signatures = [];
        if (note.Any(c => c < 0x20 && c != '\n')) return false;
        var split = note.StartsWith('\n') ? 0 : note.IndexOf("\n\n", StringComparison.Ordinal);
        if (split <= 0 || !note.EndsWith('\n')) return false;
        text = note[..(split + 1)];
        foreach (var line in note[(split + 2)..^1].Split('\n'))
        {
            if (!line.StartsWith(SignaturePrefix, StringComparison.Ordinal)) return false;
            var rest = line[SignaturePrefix.Length..];
            var space = rest.LastIndexOf(' ');
            if (space <= 0) return false;
            signatures.Add((rest[..space], rest[(space + 1)..]));
        }

        return signatures.Count > 0;
    }

    /// <summary>Reads a checkpoint note (signature not checked: see <see cref="CheckpointVerifier"/>); null when it is not one.</summary>
    public static SignedCheckpoint? Parse(string note)
    {
        if (!TrySplit(note, out var text, out var signatures)) return null;
        var lines = text[..^1].Split('\n');
        if (lines.Length != 5 || lines[0].Length == 0) return null;
        var origin = lines[0];
        if (!long.TryParse(lines[1], NumberStyles.None, CultureInfo.InvariantCulture, out var size) || size < 1
            || lines[1] != size.ToString(CultureInfo.InvariantCulture)) return null;
        if (!TryHash(lines[2], out var root) || !lines[3].StartsWith("chain ", StringComparison.Ordinal) || !TryHash(lines[3][6..], out var chain)
            || !lines[4].StartsWith("time ", StringComparison.Ordinal) || !AuditTime.TryParse(lines[4][5..], out var time)) return null;
        var signature = signatures.FirstOrDefault(s => s.KeyName == origin).Signature;
        if (signature is null) return null;
        var checkpoint = new SignedCheckpoint(size, chain, time, signature, origin, root);
        // One spelling per checkpoint: what is signed is exactly what this class writes.
        return Text(checkpoint) == text ? checkpoint : null;
    }

    private static bool TryHash(string base64, out byte[] hash)
    {
        hash = new byte[MerkleTree.HashSize];
        return Convert.TryFromBase64String(base64, hash, out var written) && written == MerkleTree.HashSize;
    }
}
