using System.Security.Cryptography;

namespace Portal.Domain.Audit;

/// <summary>What <see cref="CheckpointSigner"/> and <see cref="CheckpointVerifier"/> share: key loading, key ids and the signed bytes.</summary>
internal static class CheckpointKeys
{
    public const DSASignatureFormat SignatureFormat = DSASignatureFormat.IeeeP1363FixedFieldConcatenation;

    public const int SignatureSize = 64;

    public static ECDsa ImportPem(string pem, string expectedLabel, Action<ECDsa, byte[]> import)
    {
        ArgumentNullException.ThrowIfNull(pem);
        var fields = PemEncoding.Find(pem);
        var label = pem.AsSpan()[fields.Label];
        if (!label.SequenceEqual(expectedLabel))
        {
            throw new ArgumentException($"Expected a \"{expectedLabel}\" PEM block, found \"{label}\".", nameof(pem));
        }

        var key = ECDsa.Create();
        try
        {
            import(key, Convert.FromBase64String(pem[fields.Base64Data]));
            var curve = key.ExportParameters(includePrivateParameters: false).Curve;
            if (curve.Oid?.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
            {
                throw new ArgumentException("Checkpoint keys must be ECDSA P-256.", nameof(pem));
            }

            return key;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>First 16 hex digits of SHA-256 over the SubjectPublicKeyInfo DER: short, stable, and the same for both halves of a key pair.</summary>
    public static string KeyId(ECDsa key) =>
        Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo()), 0, 8);

    /// <summary>The JCS-canonical bytes of <c>{"hash":"hex","seq":n,"time":"yyyy-MM-ddTHH:mm:ss.ffffffZ"}</c>.</summary>
    public static byte[] SignedBytes(long seq, ReadOnlySpan<byte> hash, DateTimeOffset time)
    {
        var writer = CanonicalJsonWriter.Rent();
        writer.WriteRaw("{\"hash\":\""u8);
        Hex.WriteLower(hash, writer.Append(2 * hash.Length));
        writer.WriteRaw("\",\"seq\":"u8);
        writer.WriteInteger(seq);
        writer.WriteRaw(",\"time\":\""u8);
        AuditTime.Write(AuditTime.Normalize(time), writer.Append(AuditTime.TextLength));
        writer.WriteRaw("\"}"u8);
        return writer.ToArray();
    }
}
