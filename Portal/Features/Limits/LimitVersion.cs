namespace Portal.Features.Limits;

public sealed class LimitVersion
{
    public long Version { get; set; }
    public required string LimitsJson { get; set; }
    public required string State { get; set; }
    public required string Reason { get; set; }
    public required string ProposedBy { get; set; }
    public DateTimeOffset ProposedAt { get; set; }
    public string? ApprovedBy { get; set; }
    public DateTimeOffset? ApprovedAt { get; set; }

    /// <summary>When an API key proposed it: the key's owner, who may not approve it either.</summary>
    public string? KeyOwner { get; set; }
}
