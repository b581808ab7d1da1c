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

    /// <summary>The version in force it was built on (null for the first); it may be put in force only while that one still is.</summary>
    public long? BasedOn { get; set; }
}
