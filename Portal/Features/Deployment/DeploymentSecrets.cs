using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Portal.Domain.Audit;

namespace Portal.Features.Deployment;

/// <summary>
/// <c>init-secrets --dir DIR</c>: the key files a deployment needs, made once (docker-compose.yml's <c>secrets-init</c>
/// service). A file that exists is never replaced: a new audit key could not verify the old checkpoints, a new
/// data-protection certificate could not read the key ring. Files are mode 0600; only paths and public keys are printed.
/// </summary>
public static class DeploymentSecrets
{
    public const string Verb = "init-secrets";
    public const string AuditSigningKey = "audit-signing-key.pem";
    public const string AuditPublicKey = "audit-public-key.pem";
    public const string WitnessKey = "witness-key.pem";
    public const string WitnessPublicKey = "witness-public-key.pem";
    public const string DataProtectionCertificate = "data-protection.pem";

    public static int Run(string? directory, TextWriter output, TextWriter error)
    {
        if (directory is null)
        {
            error.WriteLine($"usage: {Verb} --dir DIR");
            return 2;
        }
        Directory.CreateDirectory(directory);
        KeyPair(directory, AuditSigningKey, AuditPublicKey, output);
        KeyPair(directory, WitnessKey, WitnessPublicKey, output);
        Write(directory, DataProtectionCertificate, output, () =>
        {
            using var rsa = RSA.Create(3072);
            var request = new CertificateRequest("CN=Portal data protection", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(10));
            return certificate.ExportCertificatePem() + "\n" + rsa.ExportPkcs8PrivateKeyPem();
        });
        return 0;
    }

    /// <summary>The public half is rewritten from the private one when missing, so the pair always matches.</summary>
    private static void KeyPair(string directory, string privateName, string publicName, TextWriter output)
    {
        Write(directory, privateName, output, () =>
        {
            using var signer = CheckpointSigner.Generate();
            return signer.ExportPrivateKeyPem();
        });
        using var key = CheckpointSigner.FromPrivateKeyPem(File.ReadAllText(Path.Combine(directory, privateName)));
        Write(directory, publicName, output, key.ExportPublicKeyPem);
    }

    private static void Write(string directory, string name, TextWriter output, Func<string> content)
    {
        var path = Path.Combine(directory, name);
        if (File.Exists(path))
        {
            output.WriteLine($"{path} exists; kept.");
            return;
        }
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var file = new StreamWriter(path, System.Text.Encoding.ASCII, options)) file.Write(content());
        output.WriteLine($"{path} written.");
    }
}
