using System.Net;
using Microsoft.Extensions.Options;

namespace Portal.Features.Observability;

/// <summary><c>Metrics:*</c>: who may scrape <c>/metrics</c>.</summary>
public sealed class MetricsOptions
{
    public const string Section = "Metrics";

    /// <summary>
    /// Comma-separated CIDRs whose clients may scrape without a token (default: this machine only).
    /// Empty: only the token admits. Behind a reverse proxy this sees the proxy's address.
    /// </summary>
    public string AllowedNetworks { get; set; } = "127.0.0.0/8,::1/128";

    /// <summary>Optional: a scraper sending <c>Authorization: Bearer &lt;token&gt;</c> is admitted from anywhere. At least 32 characters.</summary>
    public string? ScrapeToken { get; set; }

    public const int MinimumTokenLength = 32;

    /// <summary>The parsed networks; only called on validated options.</summary>
    public IReadOnlyList<IPNetwork> Networks() =>
        SplitNetworks(AllowedNetworks).Select(n => IPNetwork.Parse(n)).ToList();

    internal static IEnumerable<string> SplitNetworks(string? networks) =>
        (networks ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

public sealed class MetricsOptionsValidator : IValidateOptions<MetricsOptions>
{
    public ValidateOptionsResult Validate(string? name, MetricsOptions o)
    {
        var errors = new List<string>();
        foreach (var network in MetricsOptions.SplitNetworks(o.AllowedNetworks))
            if (!IPNetwork.TryParse(network, out _))
                errors.Add($"{MetricsOptions.Section}:AllowedNetworks has '{network}', which is not a CIDR such as 10.0.0.0/8 or ::1/128.");
        if (o.ScrapeToken is { } token && token.Trim().Length < MetricsOptions.MinimumTokenLength)
            errors.Add($"{MetricsOptions.Section}:ScrapeToken must be at least {MetricsOptions.MinimumTokenLength} characters when set.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
