using System.Security.Cryptography;

namespace Portal.Domain.Audit;

/// <summary>Signs chain checkpoints with an ECDSA P-256 key (SHA-256, IEEE P1363 signatures). Thread-safe.</summary>
public sealed class CheckpointSigner : IDisposable
{
    private readonly ECDsa key;
    private readonly Lock signing = new();

    private CheckpointSigner(ECDsa key)
    {
        this.key = key;
        KeyId = CheckpointKeys.KeyId(key);
    }

    /// <summary>Short id of the key pair: the first 16 hex digits of SHA-256 over the public key's SPKI DER.</summary>
    public string KeyId { get; }

    /// <summary>Loads a PKCS#8 private key (<c>-----BEGIN PRIVATE KEY-----</c>) on curve P-256.</summary>
    public static CheckpointSigner FromPrivateKeyPem(string pkcs8Pem) =>
        new(CheckpointKeys.ImportPem(pkcs8Pem, "PRIVATE KEY", static (k, der) => k.ImportPkcs8PrivateKey(der, out _)));

    /// <summary>Creates a fresh P-256 key, e.g. to provision a deployment or for tests.</summary>
    public static CheckpointSigner Generate() => new(ECDsa.Create(ECCurve.NamedCurves.nistP256));

    /// <summary>The public key as an SPKI PEM (<c>-----BEGIN PUBLIC KEY-----</c>), for <see cref="CheckpointVerifier.FromPublicKeyPem"/>.</summary>
    public string ExportPublicKeyPem() => key.ExportSubjectPublicKeyInfoPem();

    public string ExportPrivateKeyPem() => key.ExportPkcs8PrivateKeyPem();

    /// <summary>Signs the statement "record <paramref name="seq"/> has hash <paramref name="hash"/>", made at <paramref name="time"/>.</summary>
    public SignedCheckpoint Sign(long seq, ReadOnlySpan<byte> hash, DateTimeOffset time)
    {
        if (hash.Length != AuditChain.HashSize)
        {
            throw new ArgumentException($"A chain hash is {AuditChain.HashSize} bytes.", nameof(hash));
        }

        var normalized = AuditTime.Normalize(time);
        var signed = CheckpointKeys.SignedBytes(seq, hash, normalized);
        byte[] signature;
        lock (signing)
        {
            signature = key.SignData(signed, HashAlgorithmName.SHA256, CheckpointKeys.SignatureFormat);
        }

        return new SignedCheckpoint(seq, hash.ToArray(), normalized, Convert.ToBase64String(signature));
    }

    public void Dispose() => key.Dispose();
}
