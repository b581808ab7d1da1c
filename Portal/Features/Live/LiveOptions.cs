using Microsoft.Extensions.Options;

namespace Portal.Features.Live;

public sealed class LiveOptions
{
    public const string Section = "Live";

    /// <summary>How often this instance re-checks the keys and people behind its hub connections (a revoked key is cut off within this).</summary>
    public TimeSpan RevalidationInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How old (by the sender's clock, as this instance's clock reads it) another instance's batch of live events may be when it
    /// arrives; older ones are refused as replays. Covers the instances' clock skew plus Redis' delivery delay.
    /// </summary>
    public TimeSpan MaxBatchAge { get; set; } = TimeSpan.FromSeconds(30);
}

public sealed class LiveOptionsValidator : IValidateOptions<LiveOptions>
{
    public ValidateOptionsResult Validate(string? name, LiveOptions o)
    {
        if (o.RevalidationInterval < TimeSpan.FromMilliseconds(200) || o.RevalidationInterval > TimeSpan.FromSeconds(4))
            return ValidateOptionsResult.Fail($"{LiveOptions.Section}:RevalidationInterval must be between 00:00:00.2 and 00:00:04 (a revoked key must be cut off within 5 s).");
        if (o.MaxBatchAge < TimeSpan.FromSeconds(1) || o.MaxBatchAge > TimeSpan.FromMinutes(5))
            return ValidateOptionsResult.Fail($"{LiveOptions.Section}:MaxBatchAge must be between 00:00:01 and 00:05:00 (a replayed batch is refused once older than this).");
        return ValidateOptionsResult.Success;
    }
}
