using System.Security.Cryptography;

namespace Portal.Domain.Audit;

/// <summary>Checks checkpoint signatures made by <see cref="CheckpointSigner"/>. Thread-safe.</summary>
public sealed class CheckpointVerifier : IDisposable
{
    private readonly ECDsa key;
    private readonly Lock verifying = new();

    private CheckpointVerifier(ECDsa key)
    {
        this.key = key;
        KeyId = CheckpointKeys.KeyId(key);
    }

    /// <inheritdoc cref="CheckpointSigner.KeyId"/>
    public string KeyId { get; }

    /// <summary>Loads an SPKI public key (<c>-----BEGIN PUBLIC KEY-----</c>) on curve P-256.</summary>
    public static CheckpointVerifier FromPublicKeyPem(string spkiPem) =>
        new(CheckpointKeys.ImportPem(spkiPem, "PUBLIC KEY", static (k, der) => k.ImportSubjectPublicKeyInfo(der, out _)));

    /// <summary>True when the signature is this key's over the checkpoint's seq, hash and time.</summary>
    public bool Verify(SignedCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        Span<byte> signature = stackalloc byte[CheckpointKeys.SignatureSize];
        if (checkpoint.Hash.Length != AuditChain.HashSize
            || !Convert.TryFromBase64String(checkpoint.Signature, signature, out var signatureLength)
            || signatureLength != CheckpointKeys.SignatureSize)
        {
            return false;
        }

        var signed = CheckpointKeys.SignedBytes(checkpoint.Seq, checkpoint.Hash, checkpoint.Time);
        lock (verifying)
        {
            return key.VerifyData(signed, signature, HashAlgorithmName.SHA256, CheckpointKeys.SignatureFormat);
        }
    }

    public void Dispose() => key.Dispose();
}
