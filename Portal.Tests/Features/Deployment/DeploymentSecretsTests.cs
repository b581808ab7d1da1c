using Portal.Domain.Audit;
using Portal.Features.Deployment;

namespace Portal.Tests.Features.Deployment;

public sealed class DeploymentSecretsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "secrets-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Makes_every_key_file_private_with_matching_public_keys_and_never_replaces_one()
    {
        var output = new StringWriter();
        Assert.Equal(0, DeploymentSecrets.Run(_dir, output, TextWriter.Null));

        string[] files = [DeploymentSecrets.AuditSigningKey, DeploymentSecrets.AuditPublicKey, DeploymentSecrets.WitnessKey,
            DeploymentSecrets.WitnessPublicKey, DeploymentSecrets.DataProtectionCertificate];
        foreach (var file in files)
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, file)));
        using var signer = CheckpointSigner.FromPrivateKeyPem(File.ReadAllText(Path.Combine(_dir, DeploymentSecrets.AuditSigningKey)));
        Assert.Equal(signer.ExportPublicKeyPem(), File.ReadAllText(Path.Combine(_dir, DeploymentSecrets.AuditPublicKey)));
        Assert.DoesNotContain("PRIVATE KEY", output.ToString(), StringComparison.Ordinal);

        var before = files.ToDictionary(f => f, f => File.ReadAllText(Path.Combine(_dir, f)));
        File.Delete(Path.Combine(_dir, DeploymentSecrets.WitnessPublicKey));
        Assert.Equal(0, DeploymentSecrets.Run(_dir, TextWriter.Null, TextWriter.Null));

        // Kept as they were, and the lost public key is made again from the kept private key.
        foreach (var file in files) Assert.Equal(before[file], File.ReadAllText(Path.Combine(_dir, file)));
    }
}
