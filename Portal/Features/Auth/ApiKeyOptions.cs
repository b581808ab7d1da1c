using Microsoft.Extensions.Options;
using Portal.Domain.Risk;

namespace Portal.Features.Auth;

/// <summary>
/// <c>ApiKeys:*</c>: what one API key may send, whatever strategies it trades, so a key cannot multiply its allowance by
/// spreading orders over strategies. Counted next to the strategy and global rate limits (same Redis script, same rebuild
/// from Postgres after a loss); refused with <c>MaxOrdersPerMinutePerKey</c> / <c>MaxOrdersPerDayPerKey</c>.
/// </summary>
public sealed class ApiKeyOptions
{
    public const string Section = "ApiKeys";
    private const long Ceiling = 1_000_000_000;

    public long MaxOrdersPerMinutePerKey { get; set; } = 600;
    public long MaxOrdersPerDayPerKey { get; set; } = 50_000;

    public KeyRateLimits RateLimits => new(MaxOrdersPerMinutePerKey, MaxOrdersPerDayPerKey);

    public sealed class Validator : IValidateOptions<ApiKeyOptions>
    {
        public ValidateOptionsResult Validate(string? name, ApiKeyOptions o)
        {
            var errors = new List<string>();
            if (o.MaxOrdersPerMinutePerKey is < 1 or > Ceiling)
                errors.Add($"{Section}:{nameof(MaxOrdersPerMinutePerKey)} must be between 1 and {Ceiling} (was {o.MaxOrdersPerMinutePerKey}).");
            if (o.MaxOrdersPerDayPerKey is < 1 or > Ceiling)
                errors.Add($"{Section}:{nameof(MaxOrdersPerDayPerKey)} must be between 1 and {Ceiling} (was {o.MaxOrdersPerDayPerKey}).");
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
