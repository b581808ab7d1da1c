using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Portal.Domain.Audit;
using Portal.Features.Identity;

namespace Portal.Features.Audit;

/// <summary>
/// Security events go to the log and to the audit trail, so compliance finds who signed in, from where and with which
/// roles beside what they then did, in the record they can verify (docs/audit-trail.md, "What is recorded").
/// <list type="bullet">
/// <item>A successful sign-in is appended before the response leaves: if the trail cannot take it, the sign-in fails,
/// so there is no access without its record.</item>
/// <item>Everything else has already happened when it is reported (a refused attempt, a sign-out, a forged message),
/// so it is queued with <see cref="AuditTrail.AppendEventuallyAsync"/>: a trail that cannot be written never keeps
/// anyone from signing out.</item>
/// <item>What anyone can cause cheaply and in bulk (throttled sign-ins, answered without checking anything; forged
/// Redis messages) is recorded at most once per type in <see cref="AuditOptions.RepeatedSecurityEventsWindow"/>, the
/// next record giving the latest one and how many it stands for (<c>occurrences</c>): a flood must not fill the trail
/// or the order path's writer. The metrics and the log still count every one.</item>
/// <item>A name typed for no known user is never recorded: people type passwords into the name field, and the trail
/// keeps forever what it is given.</item>
/// <item>User creation, password and passkey changes are audit events of their own action, in its transaction
/// (<see cref="UserAccounts"/>, <see cref="PasskeyAccounts"/>); here they only go to the log.</item>
/// </list>
/// </summary>
public sealed class AuditedSecurityEventSink(LoggingSecurityEventSink log, AuditTrail trail, IOptions<AuditOptions> options, TimeProvider clock)
    : ISecurityEventSink, IDisposable
{
    public const string ForgedActor = "system:redis-guard";
    private const string UnknownUser = "user:unknown";

    private readonly ConcurrentDictionary<string, Repeats> _repeats = new(StringComparer.Ordinal);

    public async ValueTask RecordAsync(SecurityEvent e, CancellationToken ct)
    {
        await log.RecordAsync(e, ct);
        var user = e.UserId is null ? UnknownUser : "user:" + e.UserId;
        switch (e.Kind)
        {
            case SecurityEventKind.SignInSucceeded:
                await trail.AppendAsync(ToDraft(new Pending(e, e.UserId!, "user.signed_in", user, new Payload
                {
                    ["method"] = e.Method, ["address"] = e.RemoteIp, ["roles"] = e.Roles, ["credential"] = e.Reason,
                })));
                break;
            case SecurityEventKind.SignInFailed when e.Reason == "throttled":
                Repeatable(new Pending(e, "anonymous", "user.sign_in_throttled", "sign-in", new Payload { ["method"] = e.Method, ["address"] = e.RemoteIp }));
                break;
            case SecurityEventKind.SignInFailed:
                Eventually(new Pending(e, "anonymous", "user.sign_in_failed", user, new Payload
                {
                    ["method"] = e.Method, ["address"] = e.RemoteIp, ["reason"] = e.Reason,
                    // The provider's subject is the provider's word, not something typed here.
                    ["claimedSubject"] = e.UserId is null && e.Method == ExternalSignIn.Method ? e.Subject : null,
                }));
                break;
            case SecurityEventKind.SignedOut:
                Eventually(new Pending(e, e.UserId ?? "anonymous", "user.signed_out", user, new Payload { ["address"] = e.RemoteIp }));
                break;
            case SecurityEventKind.PasswordConfirmationFailed:
                Eventually(new Pending(e, e.UserId ?? "anonymous", "user.password_confirmation_failed", user,
                    new Payload { ["address"] = e.RemoteIp, ["reason"] = e.Reason }));
                break;
            case SecurityEventKind.ForgedTradingState:
                Repeatable(new Pending(e, ForgedActor, "security.forged_trading_state", "redis", new Payload
                {
                    ["source"] = e.Method, ["claimedSubject"] = e.Subject, ["reason"] = e.Reason,
                }));
                break;
            case SecurityEventKind.ForgedLiveEvents:
                Repeatable(new Pending(e, ForgedActor, "security.forged_live_events", "redis", new Payload
                {
                    ["source"] = e.Method, ["claimedOrigin"] = e.Subject, ["reason"] = e.Reason,
                }));
                break;
        }
    }

    public void Dispose()
    {
        foreach (var repeats in _repeats.Values) Flush(repeats);
    }

    /// <summary>JSON members in the order given; absent values are left out.</summary>
    private sealed class Payload : Dictionary<string, object?>;

    private sealed record Pending(SecurityEvent Event, string Actor, string Type, string Subject, Payload Payload);

    private static AuditEventDraft ToDraft(Pending p, int? occurrences = null)
    {
        var payload = new Dictionary<string, object?>();
        foreach (var (name, value) in p.Payload)
            if (value is not null) payload[name] = value;
        if (occurrences is { } n) payload["occurrences"] = n;
        return AuditEventDraft.Create(p.Event.OccurredAt, p.Actor, p.Type, p.Subject, payload);
    }

    private void Eventually(Pending p, int? occurrences = null) => _ = trail.AppendEventuallyAsync(ToDraft(p, occurrences));

    private sealed class Repeats
    {
        public readonly Lock Gate = new();
        public DateTimeOffset? LastRecorded;
        public Pending? Latest;
        public int Held;
        public ITimer? Flush;
    }

    /// <summary>The first of a type in a window is recorded at once; later ones are held and recorded as one when the window ends.</summary>
    private void Repeatable(Pending p)
    {
        var window = options.Value.RepeatedSecurityEventsWindow;
        var repeats = _repeats.GetOrAdd(p.Type, _ => new Repeats());
        lock (repeats.Gate)
        {
            var now = clock.GetUtcNow();
            if (repeats.LastRecorded is { } last && now - last < window)
            {
                repeats.Latest = p;
                repeats.Held++;
                repeats.Flush ??= clock.CreateTimer(_ => Flush(repeats), null, last + window - now, Timeout.InfiniteTimeSpan);
                return;
            }
            repeats.LastRecorded = now;
        }
        Eventually(p, occurrences: 1);
    }

    private void Flush(Repeats repeats)
    {
        Pending? latest;
        int held;
        lock (repeats.Gate)
        {
            (latest, held) = (repeats.Latest, repeats.Held);
            (repeats.Latest, repeats.Held) = (null, 0);
            repeats.Flush?.Dispose();
            repeats.Flush = null;
            if (latest is not null) repeats.LastRecorded = clock.GetUtcNow();
        }
        if (latest is not null) Eventually(latest, held);
    }
}
