using System.Text;
using System.Text.Json;
using Portal.Domain.Audit;

namespace Portal.Features.Witness;

/// <summary>One checkpoint a witness cosigned: the log's signed note with the witness's cosignature line added.</summary>
public sealed record CosignedCheckpoint(string Origin, long Size, string RootHash, string Note, DateTimeOffset CosignedAt);

/// <summary>
/// What the witness cosigned, in its own append-only file (<c>Witness:StateFile</c>), one JSON line per checkpoint,
/// synced before the cosignature is returned: after a crash it never forgets a tree it vouched for. Kept in memory too.
/// </summary>
public sealed class WitnessLedger
{
    private readonly string _path;
    private readonly Lock _gate = new();
    private readonly List<CosignedCheckpoint> _cosigned = [];

    public WitnessLedger(string path, ILogger<WitnessLedger> logger)
    {
        _path = Path.GetFullPath(path);
        if (!File.Exists(_path)) return;
        var number = 0;
        foreach (var line in File.ReadLines(_path))
        {
            number++;
            if (line.Length == 0) continue;
            try
            {
                _cosigned.Add(JsonSerializer.Deserialize<CosignedCheckpoint>(line, JsonSerializerOptions.Web)!);
            }
            catch (JsonException)
            {
                // Only a crash mid-write tears a line, and only the last: that cosignature was never returned.
                logger.LogWarning("Skipping unreadable line {Line} of the witness state file {Path}", number, _path);
            }
        }
    }

    /// <summary>Decides an add-checkpoint request against the latest tree of its log and records a cosignature, atomically.</summary>
    public WitnessDecision Add(CheckpointWitness witness, AddCheckpointRequest request, DateTimeOffset now)
    {
        lock (_gate)
        {
            var origin = CheckpointNote.Parse(request.Note)?.Origin;
            var latest = origin is null ? null : _cosigned.LastOrDefault(c => c.Origin == origin);
            var decision = witness.Decide(request, latest is null ? null : new WitnessedTree(latest.Origin, latest.Size, Convert.FromBase64String(latest.RootHash)), now);
            if (!decision.Cosigned) return decision;
            var checkpoint = decision.Checkpoint!;
            var record = new CosignedCheckpoint(checkpoint.Origin!, checkpoint.Seq, Convert.ToBase64String(checkpoint.RootHash!),
                CheckpointNote.Format(checkpoint) + $"\u2014 {witness.Name} {decision.Cosignature}\n", now);
            // Repeating the latest checkpoint (a retry after a lost reply) is answered again without a second line.
            if (latest?.Size != record.Size)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
                using var stream = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read);
                stream.Write(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(record, JsonSerializerOptions.Web) + "\n"));
                stream.Flush(flushToDisk: true);
                _cosigned.Add(record);
            }
            return decision;
        }
    }

    /// <summary>What it cosigned for <paramref name="origin"/> above tree size <paramref name="after"/>, smallest first (the order it cosigned them in), at most <paramref name="limit"/>.</summary>
    public IReadOnlyList<CosignedCheckpoint> Cosigned(string origin, long after, int limit)
    {
        lock (_gate) return _cosigned.Where(c => c.Origin == origin && c.Size > after).Take(limit).ToList();
    }
}
