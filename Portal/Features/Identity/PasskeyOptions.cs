using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Portal.Features.Identity;

/// <summary>
/// <c>Passkeys:*</c>. By default a passkey is bound to the host name the browser used (the relying party id is the
/// request's host) and its answer must come from the very origin Portal was reached at. Behind a proxy that rewrites
/// the host or ends TLS, set <see cref="ServerDomain"/> to the public host name and <see cref="AllowedOrigins"/> to
/// the public origin(s). Changing the domain later orphans every passkey registered under the old one.
/// </summary>
public sealed class PasskeyOptions
{
    public const string Section = "Passkeys";

    /// <summary>The relying party id, e.g. <c>portal.example.com</c>; null: the request's host.</summary>
    public string? ServerDomain { get; set; }

    /// <summary>Origins a browser may answer from, e.g. <c>https://portal.example.com</c>; empty: only the request's own origin.</summary>
    public string[] AllowedOrigins { get; set; } = [];
}

public sealed class PasskeyOptionsValidator : IValidateOptions<PasskeyOptions>
{
    public ValidateOptionsResult Validate(string? name, PasskeyOptions o)
    {
        var errors = new List<string>();
        if (o.ServerDomain is { } domain && (domain.Length == 0 || domain.Contains("://", StringComparison.Ordinal) || domain.Contains('/') || domain.Contains(':')))
            errors.Add($"{PasskeyOptions.Section}:ServerDomain must be a bare host name such as portal.example.com (no scheme, port or path).");
        foreach (var origin in o.AllowedOrigins)
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http") || uri.PathAndQuery != "/" || origin.EndsWith('/'))
                errors.Add($"{PasskeyOptions.Section}:AllowedOrigins: '{origin}' is not an origin such as https://portal.example.com.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Identity's passkey options from Portal's: discoverable credentials (sign-in names no account) verified on the device.</summary>
    internal static void Apply(IdentityPasskeyOptions identity, PasskeyOptions portal)
    {
        identity.ServerDomain = portal.ServerDomain;
        identity.ResidentKeyRequirement = "required";
        identity.UserVerificationRequirement = "required";
        if (portal.AllowedOrigins.Length > 0)
        {
            var allowed = portal.AllowedOrigins.ToHashSet(StringComparer.OrdinalIgnoreCase);
            identity.ValidateOrigin = context => ValueTask.FromResult(!context.CrossOrigin && allowed.Contains(context.Origin));
        }
    }
}
