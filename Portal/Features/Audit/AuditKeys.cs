using Microsoft.Extensions.Options;
using Portal.Domain.Audit;

namespace Portal.Features.Audit;

/// <summary>
/// The checkpoint key pair (the private half signs, the public half is published and verifies) and every public key
/// the log used before it, pinned in <c>Audit:PreviousKeys</c> with the time each was valid. A checkpoint counts only
/// when a pinned key made it while valid: one by an unknown key fails verification rather than being passed over.
/// </summary>
public sealed class AuditKeys : IDisposable
{
    private readonly List<PinnedKey> _pinned = [];

    public AuditKeys(IOptions<AuditOptions> options)
    {
        Signer = CheckpointSigner.FromPrivateKeyPem(options.Value.ReadSigningKeyPem());
        PublicKeyPem = Signer.ExportPublicKeyPem();
        Verifier = CheckpointVerifier.FromPublicKeyPem(PublicKeyPem);
        foreach (var previous in options.Value.PreviousKeys)
            _pinned.Add(new PinnedKey(CheckpointVerifier.FromPublicKeyPem(previous.PublicKeyPem!), previous.ValidFrom ?? DateTimeOffset.MinValue, previous.ValidUntil!.Value));
        // The current key is valid from the end of the newest previous one.
        _pinned.Add(new PinnedKey(Verifier, _pinned.Count == 0 ? DateTimeOffset.MinValue : _pinned.Max(k => k.ValidUntil), DateTimeOffset.MaxValue));
    }

    public CheckpointSigner Signer { get; }

    public CheckpointVerifier Verifier { get; }

    public string PublicKeyPem { get; }

    public string KeyId => Signer.KeyId;

    /// <summary>Null when a pinned key signed <paramref name="checkpoint"/> within its validity; otherwise why not.</summary>
    public string? SignatureProblem(SignedCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var key = checkpoint.IsNote
            ? _pinned.FirstOrDefault(k => k.Verifier.IsKeyOf(checkpoint.Origin!, checkpoint.Signature))
            : _pinned.FirstOrDefault(k => k.Verifier.KeyId == (checkpoint.KeyId ?? KeyId));
        if (key is null) return "signed by an unknown key (not pinned in Audit:PreviousKeys)";
        if (!key.Verifier.Verify(checkpoint)) return "the signature does not verify";
        if (checkpoint.Time < key.ValidFrom || checkpoint.Time >= key.ValidUntil)
            return $"signed at {checkpoint.Time.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture)}, outside the validity of key {key.Verifier.KeyId}";
        return null;
    }

    public bool IsValid(SignedCheckpoint checkpoint) => SignatureProblem(checkpoint) is null;

    public void Dispose()
    {
        Signer.Dispose();
        foreach (var key in _pinned) key.Verifier.Dispose();
    }

    private sealed record PinnedKey(CheckpointVerifier Verifier, DateTimeOffset ValidFrom, DateTimeOffset ValidUntil);
}
