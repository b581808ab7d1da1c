using System.Buffers;
using System.Text.Json;

namespace Portal.Domain.Audit;

/// <summary>
/// Describes a JSONL export (see <see cref="AuditExportFormat"/>). As JSON:
/// <c>{"from":1,"to":1000,"count":1000,"firstHash":"hex","lastHash":"hex",
/// "checkpoints":[{"seq":500,"hash":"hex","time":"2025-01-02T03:04:05.000006Z","signature":"base64"}],"publicKeyId":"16 hex"}</c>.
/// <c>firstHash</c> and <c>lastHash</c> are the hashes of the first and last exported records (null when empty).
/// The manifest itself is unsigned: what an export proves rests on the signed checkpoints that fall inside it.
/// </summary>
public sealed class AuditExportManifest(
    long from, long to, long count, byte[]? firstHash, byte[]? lastHash,
    IReadOnlyList<SignedCheckpoint> checkpoints, string publicKeyId)
{
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
                .Select(c => new SignedCheckpoint(
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
                root.GetProperty("publicKeyId").GetString() ?? throw new FormatException("The manifest needs a publicKeyId."));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
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
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteString("publicKeyId", PublicKeyId);
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(utf8.WrittenSpan);
    }

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
