using Microsoft.Extensions.Options;
using Portal.Domain.Audit;

namespace Portal.Features.Audit;

/// <summary>The checkpoint key pair: the private half signs, the public half is published and verifies.</summary>
public sealed class AuditKeys : IDisposable
{
    public AuditKeys(IOptions<AuditOptions> options)
    {
        Signer = CheckpointSigner.FromPrivateKeyPem(options.Value.ReadSigningKeyPem());
        PublicKeyPem = Signer.ExportPublicKeyPem();
        Verifier = CheckpointVerifier.FromPublicKeyPem(PublicKeyPem);
    }

    public CheckpointSigner Signer { get; }

    public CheckpointVerifier Verifier { get; }

    public string PublicKeyPem { get; }

    public string KeyId => Signer.KeyId;

    public void Dispose()
    {
        Signer.Dispose();
        Verifier.Dispose();
    }
}
