using System.Buffers;
using System.Text.Json;

namespace Portal.Domain.Audit;

/// <summary>
/// Describes a JSONL export (see <see cref="AuditExportFormat"/>). As JSON:
/// <c>{"format":"jsonl","from":1,"to":1000,"count":1000,"firstHash":"hex","lastHash":"hex",
/// "checkpoints":[{"seq":500,"hash":"hex","time":"2025-01-02T03:04:05.000006Z","signature":"base64","note":"signed note"}],"publicKeyId":"16 hex",
/// "treeHead":"signed note","tailProof":["base64",...],"filter":"text"}</c>.
/// <c>firstHash</c> and <c>lastHash</c> are the hashes of the first and last exported records (null when empty).
/// <c>treeHead</c> is a signed checkpoint note covering the export's last seq: for <c>format</c> "jsonl" (a contiguous
/// stretch) <c>tailProof</c> proves the last record is in its tree, and the links vouch for the records before it; for
/// "proofs" (a filtered export, see <see cref="AuditExportFormat.ProofsFormat"/>) every line carries its own proof
/// against it. Served as a signed note (<see cref="ToSignedNote"/>), so it cannot be edited on the way.
/// </summary>
public sealed class AuditExportManifest(
    long from, long to, long count, byte[]? firstHash, byte[]? lastHash,
    IReadOnlyList<SignedCheckpoint> checkpoints, string publicKeyId,
    string format = AuditExportFormat.JsonlFormat, SignedCheckpoint? treeHead = null, IReadOnlyList<byte[]>? tailProof = null, string? filter = null)
{
    public string Format { get; } = format is AuditExportFormat.JsonlFormat or AuditExportFormat.ProofsFormat
        ? format : throw new ArgumentException($"Unknown export format '{format}'.", nameof(format));

    /// <summary>A signed checkpoint note of a tree that holds the export's last record; null when none covered it yet.</summary>
    public SignedCheckpoint? TreeHead { get; } = treeHead;

    /// <summary>Inclusion proof of record <see cref="To"/> in <see cref="TreeHead"/> (contiguous exports).</summary>
    public IReadOnlyList<byte[]>? TailProof { get; } = tailProof;

    /// <summary>What a filtered export selected (informational: the proofs hold whatever it says).</summary>
    public string? Filter { get; } = filter;

    public long From { get; } = from;

    public long To { get; } = to;

    public long Count { get; } = count;

    public byte[]? FirstHash { get; } = firstHash;

    public byte[]? LastHash { get; } = lastHash;

    public IReadOnlyList<SignedCheckpoint> Checkpoints { get; } = checkpoints ?? throw new ArgumentNullException(nameof(checkpoints));

    /// <summary>Id of the key that signed the checkpoints (see <see cref="CheckpointSigner.KeyId"/>).</summary>
    public string PublicKeyId { get; } = publicKeyId ?? throw new ArgumentNullException(nameof(publicKeyId));

    /// <summary>Parses a manifest; throws <see cref="FormatException"/> when a member is missing or malformed.</summary>
    public static AuditExportManifest Parse(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            var checkpoints = root.GetProperty("checkpoints").EnumerateArray()
                .Select(c => c.TryGetProperty("note", out var note)
                    ? ParseNote(note)
                    : new SignedCheckpoint(
                        c.GetProperty("seq").GetInt64(),
                        ParseHash(c.GetProperty("hash")) ?? throw new FormatException("A checkpoint needs a hash."),
                        ParseTime(c.GetProperty("time")),
                        c.GetProperty("signature").GetString() ?? throw new FormatException("A checkpoint needs a signature.")))
                .ToList();
            return new AuditExportManifest(
                root.GetProperty("from").GetInt64(),
                root.GetProperty("to").GetInt64(),
                root.GetProperty("count").GetInt64(),
                ParseHash(root.GetProperty("firstHash")),
                ParseHash(root.GetProperty("lastHash")),
                checkpoints,
                root.GetProperty("publicKeyId").GetString() ?? throw new FormatException("The manifest needs a publicKeyId."),
                root.TryGetProperty("format", out var format) ? format.GetString() ?? "" : AuditExportFormat.JsonlFormat,
                root.TryGetProperty("treeHead", out var head) && head.ValueKind != JsonValueKind.Null ? ParseNote(head) : null,
                root.TryGetProperty("tailProof", out var tail) && tail.ValueKind != JsonValueKind.Null
                    ? tail.EnumerateArray().Select(p => p.GetBytesFromBase64()).ToList()
                    : null,
                root.TryGetProperty("filter", out var filter) ? filter.GetString() : null);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException)
        {
            throw new FormatException($"Malformed export manifest: {e.Message}", e);
        }
    }

    public string ToJson()
    {
        var utf8 = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(utf8))
        {
            writer.WriteStartObject();
            writer.WriteNumber("from", From);
            writer.WriteNumber("to", To);
            writer.WriteNumber("count", Count);
            WriteHash(writer, "firstHash", FirstHash);
            WriteHash(writer, "lastHash", LastHash);
            writer.WriteStartArray("checkpoints");
            foreach (var checkpoint in Checkpoints)
            {
                writer.WriteStartObject();
                writer.WriteNumber("seq", checkpoint.Seq);
                WriteHash(writer, "hash", checkpoint.Hash);
                writer.WriteString("time", AuditTime.ToText(AuditTime.Normalize(checkpoint.Time)));
                writer.WriteString("signature", checkpoint.Signature);
                if (checkpoint.IsNote) writer.WriteString("note", checkpoint.ToNote());
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteString("publicKeyId", PublicKeyId);
            writer.WriteString("format", Format);
            if (TreeHead is null) writer.WriteNull("treeHead");
            else writer.WriteString("treeHead", TreeHead.ToNote());
            if (TailProof is null) writer.WriteNull("tailProof");
            else
            {
                writer.WriteStartArray("tailProof");
                foreach (var hash in TailProof) writer.WriteBase64StringValue(hash);
                writer.WriteEndArray();
            }

            if (Filter is not null) writer.WriteString("filter", Filter);
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(utf8.WrittenSpan);
    }

    /// <summary>The manifest as a signed note: its JSON (one line), a blank line and the signature under <paramref name="keyName"/>.</summary>
    public string ToSignedNote(CheckpointSigner signer, string keyName)
    {
        ArgumentNullException.ThrowIfNull(signer);
        var text = ToJson() + "\n";
        return text + "\n\u2014 " + keyName + " " + signer.SignText(keyName, text) + "\n";
    }

    /// <summary>
    /// Reads a signed manifest: the note must carry a valid signature by one of <paramref name="keys"/>. Returns the
    /// problem instead when it does not (an unsigned or edited manifest) or does not parse.
    /// </summary>
    public static (AuditExportManifest? Manifest, string? Problem) ParseSigned(string note, IReadOnlyList<CheckpointVerifier> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (!CheckpointNote.TrySplit(note ?? "", out var text, out var signatures))
            return (null, "the manifest is not signed (expected a signed note: the JSON, a blank line and a signature line)");
        var known = signatures.SelectMany(s => keys.Where(k => k.IsKeyOf(s.KeyName, s.Signature)).Select(k => (s, k))).ToList();
        if (known.Count == 0) return (null, "the manifest is not signed by any of the given keys");
        if (known.Any(m => !m.k.VerifyText(m.s.KeyName, text, m.s.Signature))) return (null, "the manifest's signature is invalid: it was edited or forged");
        try
        {
            return (Parse(text), null);
        }
        catch (FormatException e)
        {
            return (null, e.Message);
        }
    }

    private static SignedCheckpoint ParseNote(JsonElement element) =>
        CheckpointNote.Parse(element.GetString() ?? "") ?? throw new FormatException("A checkpoint note does not parse.");

    private static void WriteHash(Utf8JsonWriter writer, string name, byte[]? hash)
    {
        if (hash is null)
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteString(name, Convert.ToHexStringLower(hash));
        }
    }

    private static byte[]? ParseHash(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var hash = new byte[AuditChain.HashSize];
        var text = element.GetString() ?? string.Empty;
        return Hex.TryParseLower(System.Text.Encoding.UTF8.GetBytes(text), hash)
            ? hash
            : throw new FormatException($"\"{text}\" is not a lowercase hex SHA-256 hash.");
    }

    private static DateTimeOffset ParseTime(JsonElement element) =>
        AuditTime.TryParse(element.GetString(), out var time)
            ? time
            : throw new FormatException($"\"{element.GetRawText()}\" is not a time like 2025-01-02T03:04:05.000006Z.");
}
