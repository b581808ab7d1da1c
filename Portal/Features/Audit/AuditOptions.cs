using Microsoft.Extensions.Options;
using Portal.Domain.Audit;
using Portal.Jobs;

namespace Portal.Features.Audit;

/// <summary>
/// <c>Audit:*</c>. The checkpoint signing key (ECDSA P-256, PKCS#8 PEM) comes from exactly one of
/// <c>Audit:SigningKeyPath</c> (a file) or <c>Audit:SigningKeyPem</c> (e.g. the environment variable
/// <c>Audit__SigningKeyPem</c>); it is never stored in the database. <c>Audit:CheckpointFile</c> is where every
/// checkpoint is also appended, outside the database. All are required: start-up is refused without them.
/// </summary>
public sealed class AuditOptions
{
    public const string Section = "Audit";

    public string? SigningKeyPath { get; set; }

    public string? SigningKeyPem { get; set; }

    public string? CheckpointFile { get; set; }

    /// <summary>The log's name: the origin line of its checkpoints and the name of its signing key (a schema-less URL such as <c>example.com/portal/audit</c>).</summary>
    public string Origin { get; set; } = "portal.local/audit";

    public CheckpointSettings Checkpoint { get; set; } = new();

    /// <summary>Public keys the log signed with before the current one, each with when it was valid: old checkpoints keep counting, and a checkpoint by any other key fails verification.</summary>
    public List<PreviousKey> PreviousKeys { get; set; } = [];

    public sealed class PreviousKey
    {
        /// <summary>SPKI PEM (<c>-----BEGIN PUBLIC KEY-----</c>) of an ECDSA P-256 key.</summary>
        public string? PublicKeyPem { get; set; }

        public DateTimeOffset? ValidFrom { get; set; }

        /// <summary>When the next key took over (required): checkpoints this key signed later are refused.</summary>
        public DateTimeOffset? ValidUntil { get; set; }
    }

    /// <summary>The witness that cosigns the checkpoints (<c>dotnet Portal.dll witness</c>); none when <c>Url</c> is empty.</summary>
    public WitnessSettings Witness { get; set; } = new();

    public sealed class WitnessSettings
    {
        /// <summary>Base URL of the witness, e.g. <c>http://witness:5091</c>.</summary>
        public string? Url { get; set; }

        /// <summary>The witness's key name, as on its cosignature lines (<c>Witness:Name</c> there).</summary>
        public string? Name { get; set; }

        /// <summary>SPKI PEM of the witness's key (its <c>GET /public-key</c>), or a file holding it: a cosignature by any other key is refused.</summary>
        public string? PublicKeyPem { get; set; }

        public string? PublicKeyPath { get; set; }

        public bool Enabled => !string.IsNullOrWhiteSpace(Url);

        public string ReadPublicKeyPem() => PublicKeyPem is { Length: > 0 } pem ? pem : File.ReadAllText(PublicKeyPath!);
    }

    /// <summary>When the Hangfire job runs the full verification (cron, UTC).</summary>
    public string VerifyCron { get; set; } = "0 2 * * *";

    /// <summary>
    /// Security events anyone can cause cheaply and in bulk (throttled sign-ins, forged Redis messages) are recorded
    /// at most once per kind in this window, the next record counting those in between: a flood must not fill the trail.
    /// </summary>
    public TimeSpan RepeatedSecurityEventsWindow { get; set; } = TimeSpan.FromMinutes(1);

    public sealed class CheckpointSettings
    {
        /// <summary>Sign the head once this many events were appended since the last checkpoint.</summary>
        public long EveryEvents { get; set; } = 10_000;

        /// <summary>Sign the head at least this often while events keep coming.</summary>
        public double EveryMinutes { get; set; } = 5;

        /// <summary>Event types that get a checkpoint within a second of being appended; null means <see cref="DefaultControlEventTypes"/>.</summary>
        public string[]? ControlEventTypes { get; set; }

        public string[] ControlEventTypesOrDefault => ControlEventTypes ?? DefaultControlEventTypes;

        public static readonly string[] DefaultControlEventTypes =
        [
            "trading.halted", "trading.resumed", "trading.reduce_only", "limits.changed", "limits.approved",
            "user.role_added", "user.role_removed", "deployment_phase.changed", "apikey.created", "apikey.revoked",
        ];
    }

    /// <summary>The key's PEM text, from the environment or the file.</summary>
    public string ReadSigningKeyPem() =>
        SigningKeyPem is { Length: > 0 } pem ? pem : File.ReadAllText(SigningKeyPath!);
}

/// <summary>Refuses start-up with a message naming each bad key.</summary>
public sealed class AuditOptionsValidator : IValidateOptions<AuditOptions>
{
    public const string GenerateHint = "create one with: dotnet Portal.dll generate-audit-key --out FILE";

    public ValidateOptionsResult Validate(string? name, AuditOptions options)
    {
        var errors = new List<string>();
        var hasPath = !string.IsNullOrWhiteSpace(options.SigningKeyPath);
        var hasPem = !string.IsNullOrWhiteSpace(options.SigningKeyPem);
        if (hasPath && hasPem)
            errors.Add($"{AuditOptions.Section}:SigningKeyPath and {AuditOptions.Section}:SigningKeyPem are both set; set one.");
        else if (!hasPath && !hasPem)
            errors.Add($"{AuditOptions.Section}:SigningKeyPath (or {AuditOptions.Section}:SigningKeyPem) is missing: checkpoints need a signing key ({GenerateHint}).");
        else if (hasPath && !File.Exists(options.SigningKeyPath))
            errors.Add($"{AuditOptions.Section}:SigningKeyPath: '{options.SigningKeyPath}' does not exist ({GenerateHint}).");
        else
        {
            try
            {
                using var signer = CheckpointSigner.FromPrivateKeyPem(options.ReadSigningKeyPem());
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or System.Security.Cryptography.CryptographicException or IOException)
            {
                errors.Add($"{AuditOptions.Section}:{(hasPath ? "SigningKeyPath" : "SigningKeyPem")} is not an ECDSA P-256 PKCS#8 private key: {ex.Message}");
            }
        }

        if (string.IsNullOrWhiteSpace(options.CheckpointFile))
            errors.Add($"{AuditOptions.Section}:CheckpointFile is missing: checkpoints are also kept in a file outside the database.");
        if (options.Checkpoint.EveryEvents < 1)
            errors.Add($"{AuditOptions.Section}:Checkpoint:EveryEvents must be at least 1.");
        if (!(options.Checkpoint.EveryMinutes > 0) || options.Checkpoint.EveryMinutes > 24 * 60)
            errors.Add($"{AuditOptions.Section}:Checkpoint:EveryMinutes must be greater than 0 and at most 1440.");
        if (string.IsNullOrWhiteSpace(options.Origin) || options.Origin.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c == '+'))
            errors.Add($"{AuditOptions.Section}:Origin must be a non-empty name without spaces or '+', such as example.com/portal/audit.");
        if (options.RepeatedSecurityEventsWindow < TimeSpan.FromSeconds(1) || options.RepeatedSecurityEventsWindow > TimeSpan.FromHours(1))
            errors.Add($"{AuditOptions.Section}:RepeatedSecurityEventsWindow must be between 00:00:01 and 01:00:00.");
        if (options.Checkpoint.ControlEventTypes is { } types && types.Any(string.IsNullOrWhiteSpace))
            errors.Add($"{AuditOptions.Section}:Checkpoint:ControlEventTypes must not contain empty entries.");
        for (var i = 0; i < options.PreviousKeys.Count; i++)
        {
            var key = options.PreviousKeys[i];
            var keyName = $"{AuditOptions.Section}:PreviousKeys:{i}";
            try
            {
                using var verifier = CheckpointVerifier.FromPublicKeyPem(key.PublicKeyPem ?? "");
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or System.Security.Cryptography.CryptographicException)
            {
                errors.Add($"{keyName}:PublicKeyPem is not an ECDSA P-256 public key (SPKI PEM): {ex.Message}");
            }
            if (key.ValidUntil is null)
                errors.Add($"{keyName}:ValidUntil is missing: when the next key took over.");
            else if (key.ValidFrom >= key.ValidUntil)
                errors.Add($"{keyName}:ValidFrom must be before ValidUntil.");
        }
        if (options.Witness.Enabled)
        {
            var w = $"{AuditOptions.Section}:Witness";
            if (!Uri.TryCreate(options.Witness.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
                errors.Add($"{w}:Url must be an absolute http(s) URL.");
            if (string.IsNullOrWhiteSpace(options.Witness.Name))
                errors.Add($"{w}:Name is missing: the witness's key name, as on its cosignatures.");
            try
            {
                using var verifier = CheckpointVerifier.FromPublicKeyPem(options.Witness.ReadPublicKeyPem());
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or IOException or System.Security.Cryptography.CryptographicException)
            {
                errors.Add($"{w}:PublicKeyPem (or PublicKeyPath) is not an ECDSA P-256 public key (SPKI PEM): {ex.Message}");
            }
        }
        if (JobSchedule.Problem(options.VerifyCron) is { } cronProblem)
            errors.Add($"{AuditOptions.Section}:VerifyCron '{options.VerifyCron}' {cronProblem}");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
