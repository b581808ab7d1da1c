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

    /// <summary>Signs a checkpoint note (<see cref="CheckpointNote"/>) for the tree of the first <paramref name="size"/> records, named by <paramref name="origin"/>.</summary>
    public SignedCheckpoint SignNote(string origin, long size, ReadOnlySpan<byte> rootHash, ReadOnlySpan<byte> chainHash, DateTimeOffset time)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(origin);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        if (rootHash.Length != MerkleTree.HashSize || chainHash.Length != AuditChain.HashSize)
        {
            throw new ArgumentException("Root and chain hashes are 32 bytes.", nameof(rootHash));
        }

        var normalized = AuditTime.Normalize(time);
        var signature = SignText(origin, CheckpointNote.Text(origin, size, rootHash, chainHash, normalized));
        return new SignedCheckpoint(size, chainHash.ToArray(), normalized, signature, origin, rootHash.ToArray());
    }

    /// <summary>A signed-note signature (base64 of key id ‖ DER signature) over <paramref name="text"/> under <paramref name="keyName"/>.</summary>
    public string SignText(string keyName, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var keyId = CheckpointNote.KeyId(keyName, key.ExportSubjectPublicKeyInfo());
        byte[] signature;
        lock (signing)
        {
            signature = key.SignData(System.Text.Encoding.UTF8.GetBytes(text), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        }

        return Convert.ToBase64String([.. keyId, .. signature]);
    }

    /// <summary>A DER ECDSA signature over <paramref name="data"/>, for formats that frame it themselves (a witness's cosignature).</summary>
    public byte[] SignData(ReadOnlySpan<byte> data)
    {
        lock (signing)
        {
            return key.SignData(data, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        }
    }

    /// <summary>The public key's SubjectPublicKeyInfo DER, from which signed-note key ids are derived.</summary>
    public byte[] PublicKeySpki() => key.ExportSubjectPublicKeyInfo();

    public void Dispose() => key.Dispose();
}
