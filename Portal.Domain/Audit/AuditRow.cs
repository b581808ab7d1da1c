using System.Text;

namespace Portal.Domain.Audit;

/// <summary>A stored audit row as read back for verification.</summary>
/// <param name="Payload">
/// The payload column as text. jsonb reorders keys and changes whitespace, so it is compared to the canonical
/// bytes after canonicalization, not byte for byte.
/// </param>
public readonly record struct AuditRow(
    long Seq,
    DateTimeOffset Time,
    string Actor,
    string Type,
    string Subject,
    string Payload,
    byte[] PrevHash,
    byte[] Hash,
    byte[] Canonical)
{
    /// <summary>The row that storing <paramref name="record"/> produces.</summary>
    public static AuditRow FromRecord(AuditRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return new AuditRow(
            record.Seq, record.Time, record.Actor, record.Type, record.Subject,
            Encoding.UTF8.GetString(record.Payload), record.PrevHash, record.Hash, record.Canonical);
    }
}
