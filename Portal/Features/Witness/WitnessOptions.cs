using Microsoft.Extensions.Options;
using Portal.Domain.Audit;

namespace Portal.Features.Witness;

/// <summary>
/// <c>Witness:*</c>, for <c>dotnet Portal.dll witness</c>: the witness's own name and key (never the log's), where it
/// keeps what it cosigned, and the logs it watches with their public keys.
/// </summary>
public sealed class WitnessOptions
{
    public const string Section = "Witness";

    /// <summary>The witness's key name, on its cosignature lines (e.g. <c>witness.example.com/portal</c>).</summary>
    public string Name { get; set; } = "";

    /// <summary>PKCS#8 PEM file of the witness's ECDSA P-256 key (<c>dotnet Portal.dll generate-audit-key --out FILE</c>).</summary>
    public string? SigningKeyPath { get; set; }

    /// <summary>The append-only file of every checkpoint it cosigned, one JSON line each.</summary>
    public string? StateFile { get; set; }

    public List<WatchedLog> Logs { get; set; } = [];

    public sealed class WatchedLog
    {
        /// <summary>The log's origin line, e.g. <c>portal.local/audit</c>.</summary>
        public string? Origin { get; set; }

        /// <summary>SPKI PEM of the log's current checkpoint key, or a file holding it.</summary>
        public string? PublicKeyPem { get; set; }

        public string? PublicKeyPath { get; set; }

        public string ReadPublicKeyPem() => PublicKeyPem is { Length: > 0 } pem ? pem : File.ReadAllText(PublicKeyPath!);
    }
}

/// <summary>Refuses start-up naming each bad key.</summary>
public sealed class WitnessOptionsValidator : IValidateOptions<WitnessOptions>
{
    public ValidateOptionsResult Validate(string? name, WitnessOptions options)
    {
        var s = WitnessOptions.Section;
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Name) || options.Name.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c == '+'))
            errors.Add($"{s}:Name must be a non-empty name without spaces or '+', such as witness.example.com/portal.");
        if (string.IsNullOrWhiteSpace(options.SigningKeyPath) || !File.Exists(options.SigningKeyPath))
            errors.Add($"{s}:SigningKeyPath must name the witness's PKCS#8 key file (create one with: dotnet Portal.dll generate-audit-key --out FILE).");
        else
        {
            try
            {
                using var signer = CheckpointSigner.FromPrivateKeyPem(File.ReadAllText(options.SigningKeyPath));
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or System.Security.Cryptography.CryptographicException)
            {
                errors.Add($"{s}:SigningKeyPath is not an ECDSA P-256 PKCS#8 private key: {ex.Message}");
            }
        }
        if (string.IsNullOrWhiteSpace(options.StateFile))
            errors.Add($"{s}:StateFile is missing: the witness keeps what it cosigned there, apart from the log.");
        if (options.Logs.Count == 0) errors.Add($"{s}:Logs must list at least one log (Origin and PublicKeyPem or PublicKeyPath).");
        for (var i = 0; i < options.Logs.Count; i++)
        {
            var log = options.Logs[i];
            if (string.IsNullOrWhiteSpace(log.Origin)) errors.Add($"{s}:Logs:{i}:Origin is missing.");
            try
            {
                using var verifier = CheckpointVerifier.FromPublicKeyPem(log.ReadPublicKeyPem());
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or IOException or System.Security.Cryptography.CryptographicException)
            {
                errors.Add($"{s}:Logs:{i}:PublicKeyPem (or PublicKeyPath) is not an ECDSA P-256 public key (SPKI PEM): {ex.Message}");
            }
        }
        if (options.Logs.Select(l => l.Origin).Distinct().Count() != options.Logs.Count)
            errors.Add($"{s}:Logs lists an origin twice.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
