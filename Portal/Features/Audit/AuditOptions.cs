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

    public CheckpointSettings Checkpoint { get; set; } = new();

    /// <summary>When the Hangfire job runs the full verification (cron, UTC).</summary>
    public string VerifyCron { get; set; } = "0 2 * * *";

    public sealed class CheckpointSettings
    {
        /// <summary>Sign the head once this many events were appended since the last checkpoint.</summary>
        public long EveryEvents { get; set; } = 10_000;

        /// <summary>Sign the head at least this often while events keep coming.</summary>
        public double EveryMinutes { get; set; } = 5;
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
        if (JobSchedule.Problem(options.VerifyCron) is { } cronProblem)
            errors.Add($"{AuditOptions.Section}:VerifyCron '{options.VerifyCron}' {cronProblem}");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
