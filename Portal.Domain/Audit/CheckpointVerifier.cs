using System.Security.Cryptography;

namespace Portal.Domain.Audit;

/// <summary>Checks checkpoint signatures made by <see cref="CheckpointSigner"/>. Thread-safe.</summary>
public sealed class CheckpointVerifier : IDisposable
{
    private readonly ECDsa key;
    private readonly Lock verifying = new();

    private readonly byte[] spki;

    private CheckpointVerifier(ECDsa key)
    {
        this.key = key;
        spki = key.ExportSubjectPublicKeyInfo();
        KeyId = CheckpointKeys.KeyId(key);
    }

    /// <inheritdoc cref="CheckpointSigner.KeyId"/>
    public string KeyId { get; }

    /// <summary>Loads an SPKI public key (<c>-----BEGIN PUBLIC KEY-----</c>) on curve P-256.</summary>
    public static CheckpointVerifier FromPublicKeyPem(string spkiPem) =>
        new(CheckpointKeys.ImportPem(spkiPem, "PUBLIC KEY", static (k, der) => k.ImportSubjectPublicKeyInfo(der, out _)));

    /// <summary>True when the signature is this key's over the checkpoint (its note text, or a legacy checkpoint's seq, hash and time).</summary>
    public bool Verify(SignedCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        if (checkpoint.IsNote)
        {
            return VerifyText(checkpoint.Origin!, CheckpointNote.Text(checkpoint), checkpoint.Signature);
        }

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

    /// <summary>Whether a signed-note signature line's key id is this key's under <paramref name="keyName"/>.</summary>
    public bool IsKeyOf(string keyName, string signatureBase64)
    {
        return TryDecodeNoteSignature(signatureBase64, out var decoded)
            && decoded.AsSpan(0, 4).SequenceEqual(CheckpointNote.KeyId(keyName, spki));
    }

    /// <summary>True when <paramref name="signatureBase64"/> (key id ‖ DER signature) is this key's, under <paramref name="keyName"/>, over <paramref name="text"/>.</summary>
    public bool VerifyText(string keyName, string text, string signatureBase64)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!TryDecodeNoteSignature(signatureBase64, out var decoded)
            || !decoded.AsSpan(0, 4).SequenceEqual(CheckpointNote.KeyId(keyName, spki)))
        {
            return false;
        }

        lock (verifying)
        {
            return key.VerifyData(System.Text.Encoding.UTF8.GetBytes(text), decoded.AsSpan(4), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        }
    }

    /// <summary>True when <paramref name="derSignature"/> is this key's over <paramref name="data"/> (see <see cref="CheckpointSigner.SignData"/>).</summary>
    public bool VerifyData(ReadOnlySpan<byte> data, ReadOnlySpan<byte> derSignature)
    {
        lock (verifying)
        {
            return key.VerifyData(data, derSignature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        }
    }

    /// <summary>The signed-note key id (4 bytes) of this key under <paramref name="keyName"/>.</summary>
    public byte[] NoteKeyId(string keyName) => CheckpointNote.KeyId(keyName, spki);

    private static bool TryDecodeNoteSignature(string signatureBase64, out byte[] decoded)
    {
        decoded = [];
        try
        {
            decoded = Convert.FromBase64String(signatureBase64 ?? "");
        }
        catch (FormatException)
        {
            return false;
        }

        return decoded.Length > 4;
    }

    public void Dispose() => key.Dispose();
}
