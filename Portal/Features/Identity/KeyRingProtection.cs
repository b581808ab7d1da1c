using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;

namespace Portal.Features.Identity;

/// <summary>
/// The certificate that encrypts the data-protection key ring at rest (the keys that sign sign-in cookies and
/// antiforgery tokens, kept in Postgres by <see cref="PostgresXmlRepository"/>): whoever reads the table without the
/// certificate's private key cannot forge a session. <c>DataProtection:CertificatePath</c> is a PEM file holding the
/// certificate and its RSA private key (./run makes one in .data); <c>DataProtection:CertificatePem</c> is the same
/// text (e.g. from a secret store). Every instance needs the same certificate. Required outside Development and Test.
/// Keys written before a certificate was configured stay readable as they are until they expire (see docs/security.md).
/// </summary>
public sealed class KeyRingProtectionOptions
{
    public const string Section = "DataProtection";
    public const string GenerateHint = "make one with scripts/services.sh's make_data_protection_certificate, or openssl req -x509 -newkey rsa:3072 -nodes";

    public string? CertificatePath { get; set; }
    public string? CertificatePem { get; set; }

    public bool IsConfigured => !string.IsNullOrWhiteSpace(CertificatePath) || !string.IsNullOrWhiteSpace(CertificatePem);

    private string Key => string.IsNullOrWhiteSpace(CertificatePem) ? $"{Section}:CertificatePath" : $"{Section}:CertificatePem";

    /// <summary>The certificate with its private key, or null when none is configured; throws naming the key if it is unusable.</summary>
    public X509Certificate2? LoadCertificate()
    {
        if (!IsConfigured) return null;
        X509Certificate2 certificate;
        try
        {
            certificate = string.IsNullOrWhiteSpace(CertificatePem)
                ? X509Certificate2.CreateFromPemFile(CertificatePath!)
                : X509Certificate2.CreateFromPem(CertificatePem, CertificatePem);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or ArgumentException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"{Key} is not a PEM certificate with its private key: {ex.Message} ({GenerateHint}).", ex);
        }
        using var rsa = certificate.GetRSAPrivateKey();
        if (rsa is null)
        {
            certificate.Dispose();
            throw new InvalidOperationException($"{Key} must hold an RSA certificate and its private key ({GenerateHint}).");
        }
        return certificate;
    }
}

/// <summary>Refuses start-up, naming the key, when the key ring would be stored unencrypted outside Development and Test.</summary>
public sealed class KeyRingProtectionOptionsValidator(IHostEnvironment environment) : IValidateOptions<KeyRingProtectionOptions>
{
    public ValidateOptionsResult Validate(string? name, KeyRingProtectionOptions options)
    {
        if (!string.IsNullOrWhiteSpace(options.CertificatePath) && !string.IsNullOrWhiteSpace(options.CertificatePem))
            return ValidateOptionsResult.Fail($"{KeyRingProtectionOptions.Section}:CertificatePath and {KeyRingProtectionOptions.Section}:CertificatePem are both set; set one.");
        if (!options.IsConfigured)
            return environment.IsDevelopment() || environment.IsEnvironment("Test")
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail($"{KeyRingProtectionOptions.Section}:CertificatePath (or {KeyRingProtectionOptions.Section}:CertificatePem) is missing: " +
                    $"the data-protection keys must be encrypted at rest ({KeyRingProtectionOptions.GenerateHint}).");
        try
        {
            options.LoadCertificate()?.Dispose();
            return ValidateOptionsResult.Success;
        }
        catch (InvalidOperationException ex)
        {
            return ValidateOptionsResult.Fail(ex.Message);
        }
    }
}
