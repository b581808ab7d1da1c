using System.Buffers.Text;
using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using Portal.Domain.Audit;
using Portal.Features.Audit;

namespace Portal.Features.Identity;

/// <summary>One of a person's passkeys as Portal shows it: never its public key. <see cref="Id"/> is the credential id, base64url.</summary>
public sealed record PasskeySummary(string Id, string Name, string Fingerprint, DateTimeOffset CreatedAt, bool BackedUp);

/// <summary>What a passkey request came to: a reply for the person, or <see cref="Error"/> (and the field it concerns) when refused.</summary>
public sealed record PasskeyOutcome<T>(T? Value, string? Error = null, string? Field = null, bool NotFound = false, bool Throttled = false)
{
    public bool Succeeded => Error is null && !NotFound && !Throttled;
}

/// <summary>
/// Passkeys (WebAuthn) through ASP.NET Core Identity's own support (schema version 3, <c>AspNetUserPasskeys</c>): a person
/// registers, names, lists and removes their own passkeys, and signs in with one. The ceremony state between asking for
/// options and answering them is Identity's (a short-lived encrypted cookie). Sign-in keeps password sign-in's rules: the
/// address is throttled by <see cref="SignInThrottle"/> (a passkey names no account until its signature checks, so failures
/// count against the address), an account an Admin locked is refused, the cookie is built by the same claims factory (the
/// roles are read from Postgres now) with "remember this device" as on the password form, and every registration, removal
/// and sign-in is recorded in the <see cref="ISecurityEventSink"/> with the passkey's name and fingerprint, never a key.
/// Adding, renaming and removing a passkey change how a person can sign in: each is also an audit event
/// (<c>user.passkey_added|renamed|removed</c>) committed in the same transaction as the change.
/// </summary>
public sealed class PasskeyAccounts(
    SignInManager<IdentityUser> signInManager, UserManager<IdentityUser> users, PortalIdentityDbContext db, SignInThrottle throttle,
    PasswordConfirmation confirmation, ISecurityEventSink sink, TimeProvider clock, IOptions<SignInThrottleOptions> throttleOptions)
{
    public const string AddedType = "user.passkey_added";
    public const string RenamedType = "user.passkey_renamed";
    public const string RemovedType = "user.passkey_removed";

    public const string Method = "passkey";
    public const int MaxPasskeys = 20;
    public const int MaxNameLength = 64;
    /// <summary>A WebAuthn response is a few kilobytes; anything far larger is not one.</summary>
    public const int MaxCredentialJsonLength = 64 * 1024;

    /// <summary>The roles that halt or loosen controls: Portal presses them to add a passkey until they have one.</summary>
    public static readonly IReadOnlyList<string> OfferedRoles = [Roles.OnCall, Roles.RiskOfficer];

    public async Task<IReadOnlyList<PasskeySummary>> ListAsync(IdentityUser user) =>
        (await users.GetPasskeysAsync(user)).OrderBy(p => p.CreatedAt).Select(Summarize).ToList();

    /// <summary>True if <paramref name="user"/> holds OnCall or RiskOfficer and has no passkey yet.</summary>
    public static async Task<bool> ShouldOfferAsync(UserManager<IdentityUser> users, IdentityUser user)
    {
        var roles = await users.GetRolesAsync(user);
        return roles.Any(r => OfferedRoles.Contains(r)) && (await users.GetPasskeysAsync(user)).Count == 0;
    }

    /// <summary>
    /// The options for <c>navigator.credentials.create()</c> (JSON), for the signed-in <paramref name="user"/> once they
    /// gave their password again: a passkey outlives the session and a password change, so whoever holds a session (an
    /// unlocked laptop, a stolen cookie) must not be able to give themselves one. A wrong password counts against the
    /// sign-in throttle, so the session cannot be used to guess it. An account without a password signs in through single
    /// sign-on, whose provider is where its strong sign-in belongs.
    /// </summary>
    public async Task<PasskeyOutcome<string>> CreationOptionsAsync(IdentityUser user, string? password, HttpContext http)
    {
        if (!await users.HasPasswordAsync(user))
            return new(null, "Your account signs in with single sign-on: add a passkey at your identity provider.");
        if (string.IsNullOrEmpty(password)) return new(null, "Enter your password to add a passkey.", "password");
        switch (await confirmation.CheckAsync(user, password, http.Connection.RemoteIpAddress?.ToString(), Method, "to add a passkey", http.RequestAborted))
        {
            case PasswordCheck.Throttled: return new(null, SignInThrottle.WaitMessage, Throttled: true);
            case PasswordCheck.Wrong: return new(null, "This is not your password.", "password");
        }
        if ((await users.GetPasskeysAsync(user)).Count >= MaxPasskeys)
            return new(null, $"You already have {MaxPasskeys} passkeys: remove one first.");
        var name = Subject(user);
        return new(await signInManager.MakePasskeyCreationOptionsAsync(new PasskeyUserEntity { Id = user.Id, Name = name, DisplayName = name }));
    }

    /// <summary>Checks the authenticator's answer to the creation options and stores the passkey for <paramref name="user"/>.</summary>
    public async Task<PasskeyOutcome<PasskeySummary>> RegisterAsync(IdentityUser user, string? credentialJson, string? name, HttpContext http)
    {
        if (CheckCredentialJson(credentialJson) is { } invalid) return new(null, invalid, "credentialJson");
        if (CheckName(name, out var cleanName) is { } badName) return new(null, badName, "name");
        if ((await users.GetPasskeysAsync(user)).Count >= MaxPasskeys)
            return new(null, $"You already have {MaxPasskeys} passkeys: remove one first.");

        PasskeyAttestationResult attestation;
        try
        {
            attestation = await signInManager.PerformPasskeyAttestationAsync(credentialJson!);
        }
        catch (InvalidOperationException)
        {
            // Identity throws when no registration was started in this browser (no or expired ceremony cookie).
            return new(null, "No passkey registration is under way in this browser: start again.", "credentialJson");
        }
        if (!attestation.Succeeded) return new(null, "The passkey was not accepted: " + attestation.Failure.Message, "credentialJson");
        // The ceremony was started for a person; only that person may finish it.
        if (attestation.UserEntity.Id != user.Id) return new(null, "This passkey registration was started by someone else.", "credentialJson");
        if (await users.FindByPasskeyIdAsync(attestation.Passkey.CredentialId) is not null)
            return new(null, "This passkey is already registered.", "credentialJson");

        var passkey = attestation.Passkey;
        passkey.Name = cleanName ?? $"Passkey added {clock.GetUtcNow():yyyy-MM-dd HH:mm} UTC";
        var summary = Summarize(passkey);
        var stored = await AuditedAsync(() => users.AddOrUpdatePasskeyAsync(user, passkey), AddedType, user, summary, http.RequestAborted);
        if (!stored.Succeeded) return new(null, "The passkey could not be stored: " + Describe(stored));
        await RecordAsync(SecurityEventKind.PasskeyAdded, user, http, Label(summary), null);
        return new(summary);
    }

    public async Task<PasskeyOutcome<PasskeySummary>> RenameAsync(IdentityUser user, string id, string? name, HttpContext http)
    {
        if (ParseId(id) is not { } credentialId) return new(null, "Not a passkey id (base64url).", "id");
        if (CheckName(name, out var cleanName) is { } badName) return new(null, badName, "name");
        if (cleanName is null) return new(null, "Give the passkey a name.", "name");
        var passkey = await users.GetPasskeyAsync(user, credentialId);
        if (passkey is null) return new(null, NotFound: true);
        passkey.Name = cleanName;
        var summary = Summarize(passkey);
        var stored = await AuditedAsync(() => users.AddOrUpdatePasskeyAsync(user, passkey), RenamedType, user, summary, http.RequestAborted);
        if (!stored.Succeeded) return new(null, "The passkey could not be renamed: " + Describe(stored));
        await RecordAsync(SecurityEventKind.PasskeyRenamed, user, http, Label(summary), null);
        return new(summary);
    }

    /// <summary>Removes one of <paramref name="user"/>'s own passkeys; another person's id is answered as not found.</summary>
    public async Task<PasskeyOutcome<PasskeySummary>> RemoveAsync(IdentityUser user, string id, HttpContext http)
    {
        if (ParseId(id) is not { } credentialId) return new(null, "Not a passkey id (base64url).", "id");
        var passkey = await users.GetPasskeyAsync(user, credentialId);
        if (passkey is null) return new(null, NotFound: true);
        var summary = Summarize(passkey);
        var removed = await AuditedAsync(() => users.RemovePasskeyAsync(user, credentialId), RemovedType, user, summary, http.RequestAborted);
        if (!removed.Succeeded) return new(null, "The passkey could not be removed: " + Describe(removed));
        await RecordAsync(SecurityEventKind.PasskeyRemoved, user, http, Label(summary), null);
        return new(summary);
    }

    /// <summary>The options for <c>navigator.credentials.get()</c> (JSON): any of this site's passkeys, the person is chosen on the device.</summary>
    public Task<string> RequestOptionsAsync() => signInManager.MakePasskeyRequestOptionsAsync(null);

    /// <summary>Signs in with the authenticator's answer to the request options; the user on success.</summary>
    public async Task<(SignInOutcome Outcome, IdentityUser? User)> SignInAsync(string credentialJson, bool rememberDevice, HttpContext http)
    {
        var ip = http.Connection.RemoteIpAddress?.ToString();
        var ct = http.RequestAborted;
        if (await throttle.IsAddressThrottledAsync(ip))
        {
            await sink.RecordAsync(new SecurityEvent(SecurityEventKind.SignInFailed, clock.GetUtcNow(), null, "(passkey)", Method, ip, "throttled"), ct);
            return (SignInOutcome.Throttled, null);
        }

        PasskeyAssertionResult<IdentityUser>? assertion;
        string? failure = null;
        try
        {
            assertion = await signInManager.PerformPasskeyAssertionAsync(credentialJson);
            if (!assertion.Succeeded) failure = assertion.Failure.Message;
        }
        catch (InvalidOperationException)
        {
            (assertion, failure) = (null, "no passkey sign-in under way in this browser");
        }
        if (failure is not null || assertion?.User is null || assertion.Passkey is null)
        {
            await throttle.RecordAddressFailureAsync(ip);
            await sink.RecordAsync(new SecurityEvent(SecurityEventKind.SignInFailed, clock.GetUtcNow(), null, "(passkey)", Method, ip, failure ?? "no user"), ct);
            return (SignInOutcome.Failed, null);
        }

        var user = assertion.User;
        var email = Subject(user);
        var label = Label(Summarize(assertion.Passkey));
        if (await users.IsLockedOutAsync(user) || !await signInManager.CanSignInAsync(user))
        {
            // As with a password: an account an Admin locked is answered as any failure.
            await throttle.RecordFailureAsync(email, ip);
            await sink.RecordAsync(new SecurityEvent(SecurityEventKind.SignInFailed, clock.GetUtcNow(), user.Id, email, Method, ip,
                (await users.IsLockedOutAsync(user) ? "locked out" : "not allowed") + "; " + label), ct);
            return (SignInOutcome.Failed, null);
        }
        // The new signature counter and flags, as Identity's own passkey sign-in stores them.
        if (await users.AddOrUpdatePasskeyAsync(user, assertion.Passkey) is { Succeeded: false } updated)
        {
            await sink.RecordAsync(new SecurityEvent(SecurityEventKind.SignInFailed, clock.GetUtcNow(), user.Id, email, Method, ip,
                "passkey not updated: " + Describe(updated)), ct);
            return (SignInOutcome.Failed, null);
        }
        await signInManager.SignInWithClaimsAsync(user, PasswordSignIn.SessionProperties(rememberDevice, clock, throttleOptions.Value),
            [new Claim("amr", "pop"), new Claim("amr", "mfa")]);
        await throttle.RecordSuccessAsync(email);
        await sink.RecordAsync(new SecurityEvent(SecurityEventKind.SignInSucceeded, clock.GetUtcNow(), user.Id, email, Method, ip, label,
            [.. await users.GetRolesAsync(user)]), ct);
        return (SignInOutcome.Succeeded, user);
    }

    internal static string? CheckCredentialJson(string? credentialJson) =>
        string.IsNullOrWhiteSpace(credentialJson) ? "The authenticator's answer (credentialJson) is missing."
        : credentialJson.Length > MaxCredentialJsonLength ? $"credentialJson is longer than {MaxCredentialJsonLength} characters."
        : null;

    private static string? CheckName(string? name, out string? clean)
    {
        clean = string.IsNullOrWhiteSpace(name) ? null : name.Trim();
        if (clean is null) return null;
        if (clean.Length > MaxNameLength) return $"A passkey's name has at most {MaxNameLength} characters.";
        if (clean.Any(char.IsControl)) return "A passkey's name cannot hold control characters.";
        return null;
    }

    private static byte[]? ParseId(string id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 1400) return null;
        try
        {
            var bytes = Base64Url.DecodeFromChars(id);
            return bytes.Length is > 0 and <= 1024 ? bytes : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static PasskeySummary Summarize(UserPasskeyInfo passkey) => new(
        Base64Url.EncodeToString(passkey.CredentialId), passkey.Name ?? "Unnamed passkey",
        Convert.ToHexString(SHA256.HashData(passkey.CredentialId))[..12].ToLowerInvariant(), passkey.CreatedAt, passkey.IsBackedUp);

    /// <summary>Runs <paramref name="change"/> and appends its audit event in one transaction: both or neither.</summary>
    private async Task<IdentityResult> AuditedAsync(Func<Task<IdentityResult>> change, string type, IdentityUser user, PasskeySummary passkey, CancellationToken ct)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var result = await change();
        if (!result.Succeeded) return result;
        await AuditTrail.AppendInTransactionAsync(db, [AuditEventDraft.Create(clock.GetUtcNow(), user.UserName ?? user.Id, type, "user:" + user.Id,
            new { id = user.Id, email = user.Email, passkey = passkey.Name, fingerprint = passkey.Fingerprint, backedUp = passkey.BackedUp })], ct);
        await transaction.CommitAsync(ct);
        return result;
    }

    /// <summary>How the account is named in records: its email, else its user name, else its id.</summary>
    private static string Subject(IdentityUser user) => user.Email ?? user.UserName ?? user.Id;

    private static string Label(PasskeySummary passkey) => $"passkey '{passkey.Name}' ({passkey.Fingerprint})";

    private ValueTask RecordAsync(SecurityEventKind kind, IdentityUser user, HttpContext http, string reason, IReadOnlyList<string>? roles) =>
        sink.RecordAsync(new SecurityEvent(kind, clock.GetUtcNow(), user.Id, Subject(user), Method,
            http.Connection.RemoteIpAddress?.ToString(), reason, roles), http.RequestAborted);

    private static string Describe(IdentityResult result) => string.Join(" ", result.Errors.Select(e => e.Description));
}
