using System.Security.Cryptography;
using System.Text;
using Portal.Domain.Audit;

namespace Portal.Tests.Domain.Audit;

public sealed class CheckpointSignatureTests : IDisposable
{
    private static readonly byte[] Hash = SHA256.HashData("some chain head"u8);
    private static readonly DateTimeOffset SignedAt = new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero).AddTicks(9_876_543);

    private readonly CheckpointSigner signer = CheckpointSigner.Generate();
    private readonly CheckpointVerifier verifier;

    public CheckpointSignatureTests()
    {
        verifier = CheckpointVerifier.FromPublicKeyPem(signer.ExportPublicKeyPem());
    }

    public void Dispose()
    {
        signer.Dispose();
        verifier.Dispose();
    }

    [Fact]
    public void A_signed_checkpoint_verifies_with_the_exported_public_key()
    {
        var checkpoint = signer.Sign(500, Hash, SignedAt);

        Assert.True(verifier.Verify(checkpoint));
        Assert.Equal(500, checkpoint.Seq);
        Assert.Equal(Hash, checkpoint.Hash);
        Assert.Equal(SignedAt.AddTicks(-3), checkpoint.Time);
        Assert.Equal(64, Convert.FromBase64String(checkpoint.Signature).Length);
    }

    [Fact]
    public void The_signature_covers_the_jcs_bytes_of_hash_seq_and_time()
    {
        var checkpoint = signer.Sign(500, Hash, SignedAt);
        var signedText = $"{{\"hash\":\"{Convert.ToHexStringLower(Hash)}\",\"seq\":500,\"time\":\"2025-06-01T12:00:00.987654Z\"}}";
        using var plainKey = ECDsa.Create();
        plainKey.ImportFromPem(signer.ExportPublicKeyPem());

        Assert.True(plainKey.VerifyData(
            Encoding.UTF8.GetBytes(signedText),
            Convert.FromBase64String(checkpoint.Signature),
            HashAlgorithmName.SHA256,
            DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
    }

    [Fact]
    public void Changing_seq_hash_time_or_signature_breaks_verification()
    {
        var good = signer.Sign(500, Hash, SignedAt);
        var otherHash = Hash.ToArray();
        otherHash[31] ^= 1;
        var signature = Convert.FromBase64String(good.Signature);
        signature[10] ^= 0x40;

        Assert.False(verifier.Verify(new SignedCheckpoint(501, good.Hash, good.Time, good.Signature)));
        Assert.False(verifier.Verify(new SignedCheckpoint(good.Seq, otherHash, good.Time, good.Signature)));
        Assert.False(verifier.Verify(new SignedCheckpoint(good.Seq, good.Hash, good.Time.AddTicks(10), good.Signature)));
        Assert.False(verifier.Verify(new SignedCheckpoint(good.Seq, good.Hash, good.Time, Convert.ToBase64String(signature))));
        Assert.False(verifier.Verify(new SignedCheckpoint(good.Seq, good.Hash, good.Time, "not base64!")));
        Assert.False(verifier.Verify(new SignedCheckpoint(good.Seq, good.Hash, good.Time, Convert.ToBase64String(new byte[72]))));
    }

    [Fact]
    public void Another_key_does_not_verify()
    {
        using var otherSigner = CheckpointSigner.Generate();

        Assert.False(verifier.Verify(otherSigner.Sign(500, Hash, SignedAt)));
        Assert.NotEqual(signer.KeyId, otherSigner.KeyId);
    }

    [Fact]
    public void A_private_key_pem_round_trips_and_keeps_its_key_id()
    {
        using var reloaded = CheckpointSigner.FromPrivateKeyPem(signer.ExportPrivateKeyPem());

        Assert.True(verifier.Verify(reloaded.Sign(7, Hash, SignedAt)));
        Assert.Equal(signer.KeyId, reloaded.KeyId);
        Assert.Equal(signer.KeyId, verifier.KeyId);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", signer.ExportPrivateKeyPem(), StringComparison.Ordinal);
        Assert.StartsWith("-----BEGIN PUBLIC KEY-----", signer.ExportPublicKeyPem(), StringComparison.Ordinal);
    }

    [Fact]
    public void Key_id_is_the_first_16_hex_of_sha256_over_the_spki_der()
    {
        var pem = signer.ExportPublicKeyPem();
        var fields = PemEncoding.Find(pem);
        var spkiDer = Convert.FromBase64String(pem[fields.Base64Data]);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(spkiDer))[..16], signer.KeyId);
    }

    [Fact]
    public void Keys_of_the_wrong_kind_are_refused()
    {
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);

        Assert.Throws<ArgumentException>(() => CheckpointVerifier.FromPublicKeyPem(signer.ExportPrivateKeyPem()));
        Assert.Throws<ArgumentException>(() => CheckpointSigner.FromPrivateKeyPem(signer.ExportPublicKeyPem()));
        Assert.Throws<ArgumentException>(() => CheckpointVerifier.FromPublicKeyPem(p384.ExportSubjectPublicKeyInfoPem()));
        Assert.Throws<ArgumentException>(() => CheckpointSigner.FromPrivateKeyPem(p384.ExportPkcs8PrivateKeyPem()));
        Assert.Throws<ArgumentException>(() => CheckpointVerifier.FromPublicKeyPem("no pem here"));
    }
}
