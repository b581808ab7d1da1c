using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Portal.Domain.Audit;

namespace Portal.Features.Audit;

/// <summary>
/// Checkpoints kept outside the database (<c>Audit:CheckpointFile</c>), one JSON line each:
/// <c>{"seq":42,"hash":"hex","time":"2025-01-02T03:04:05.000006Z","signature":"base64","keyId":"16 hex","note":"signed note"}</c>
/// (<c>note</c>: the C2SP checkpoint, which is what counts; lines written before the Merkle tree have none).
/// Someone able to rewrite the database can delete checkpoint rows, but not these lines; verification reads both.
/// Each instance appends the checkpoints it signs, and syncs the file before the checkpoint counts.
/// </summary>
public sealed class AuditCheckpointFile(IOptions<AuditOptions> options, ILogger<AuditCheckpointFile> logger)
{
    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";
    private readonly Lock _appending = new();

    public string Path { get; } = System.IO.Path.GetFullPath(options.Value.CheckpointFile!);

    public void Append(SignedCheckpoint checkpoint, string keyId)
    {
        var line = Format(checkpoint, keyId) + "\n";
        lock (_appending)
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            using var stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
            stream.Write(Encoding.UTF8.GetBytes(line));
            stream.Flush(flushToDisk: true);
        }
    }

    /// <summary>The file's checkpoints, of every key; unreadable lines are logged and skipped (a crash can tear the last one).</summary>
    public List<SignedCheckpoint> Read()
    {
        var checkpoints = new List<SignedCheckpoint>();
        if (!File.Exists(Path)) return checkpoints;
        var number = 0;
        foreach (var line in File.ReadLines(Path))
        {
            number++;
            if (line.Length == 0) continue;
            if (TryParse(line, out var checkpoint, out _)) checkpoints.Add(checkpoint);
            else logger.LogWarning("Skipping unreadable line {Line} of the audit checkpoint file {Path}", number, Path);
        }
        return checkpoints;
    }

    public static string Format(SignedCheckpoint c, string keyId)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("seq", c.Seq);
            json.WriteString("hash", Convert.ToHexStringLower(c.Hash));
            json.WriteString("time", c.Time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture));
            json.WriteString("signature", c.Signature);
            json.WriteString("keyId", keyId);
            if (c.IsNote) json.WriteString("note", c.ToNote());
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public static bool TryParse(string line, out SignedCheckpoint checkpoint, out string keyId)
    {
        checkpoint = null!;
        keyId = "";
        try
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            var hash = Convert.FromHexString(root.GetProperty("hash").GetString()!);
            if (hash.Length != AuditChain.HashSize) return false;
            var time = DateTimeOffset.ParseExact(root.GetProperty("time").GetString()!, TimeFormat, CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            checkpoint = (root.TryGetProperty("note", out var note) ? CheckpointNote.Parse(note.GetString()!) : null)
                ?? new SignedCheckpoint(root.GetProperty("seq").GetInt64(), hash, time, root.GetProperty("signature").GetString()!)
                { KeyId = root.GetProperty("keyId").GetString()! };
            keyId = root.GetProperty("keyId").GetString()!;
            return true;
        }
        catch (Exception ex) when (ex is JsonException or FormatException or KeyNotFoundException or InvalidOperationException or ArgumentNullException)
        {
            return false;
        }
    }
}
