using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Portal.Features.Audit;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;
using StackExchange.Redis;

namespace Portal.Tests.Features.Audit;

/// <summary>Who signed in, who was refused, who changed a password, and what was forged on Redis: in the audit trail, not only the log.</summary>
public sealed class AuditedSecurityEventsTests
{
    private sealed record Row(string Type, string Actor, string Subject, JsonElement Payload);

    private static async Task<List<Row>> RowsAsync(PortalFactory portal, string typePrefix)
    {
        await using var connection = new NpgsqlConnection(portal.AppConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select type, actor, subject, payload::text from audit_events where type like $1 || '%' order by seq", connection);
        command.Parameters.AddWithValue(typePrefix);
        var rows = new List<Row>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            rows.Add(new Row(reader.GetString(0), reader.GetString(1), reader.GetString(2), JsonDocument.Parse(reader.GetString(3)).RootElement.Clone()));
        return rows;
    }

    private static async Task<long> RowsContainingAsync(PortalFactory portal, string text)
    {
        await using var connection = new NpgsqlConnection(portal.AppConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select count(*) from audit_events where position($1 in convert_from(canonical, 'UTF8')) > 0", connection);
        command.Parameters.AddWithValue(text);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<List<Row>> WaitForRowsAsync(PortalFactory portal, string typePrefix, Func<List<Row>, bool> enough, string what)
    {
        var rows = new List<Row>();
        await Poll.UntilAsync(async () => enough(rows = await RowsAsync(portal, typePrefix)), what);
        return rows;
    }

    private static string UserIdOf(PortalFactory portal, string email)
    {
        using var scope = portal.Services.CreateScope();
        return scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>().FindByEmailAsync(email).GetAwaiter().GetResult()!.Id;
    }

    [Fact]
    public async Task Sign_ins_refusals_sign_outs_and_password_changes_are_audit_events_and_a_name_typed_for_no_user_is_never_recorded()
    {
        await using var portal = await PortalFactory.StartAsync();
        var logs = new CapturedLogs();
        portal.Get<ILoggerFactory>().AddProvider(logs);
        var user = await portal.CreateUserAsync(Roles.OnCall);
        var id = UserIdOf(portal, user.Email);
        // The form takes only an email, but a password can look like one.
        const string TypedForNoUser = "tr0ub4dor.3-typed-as-the-name@test.local";

        var created = Assert.Single(await RowsAsync(portal, "user.created"), r => r.Subject == "user:" + id);
        Assert.Equal("test", created.Actor);
        Assert.Equal(Roles.OnCall, created.Payload.GetProperty("roles")[0].GetString());

        var guesser = portal.CreateBrowserClient();
        Assert.NotEqual(HttpStatusCode.Found, (await guesser.PostLoginFormAsync(user.Email, "not-the-password-at-all")).StatusCode);
        Assert.NotEqual(HttpStatusCode.Found, (await guesser.PostLoginFormAsync(TypedForNoUser, user.Password)).StatusCode);

        var person = await portal.SignInAsync(user);
        // Recorded before the sign-in's answer left: no waiting.
        var signedIn = Assert.Single(await RowsAsync(portal, "user.signed_in"), r => r.Subject == "user:" + id);
        Assert.Equal(id, signedIn.Actor);
        Assert.Equal("password", signedIn.Payload.GetProperty("method").GetString());
        Assert.Equal([Roles.OnCall], signedIn.Payload.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        // Before the password changes: a change of password ends every session of the person at their next request.
        Assert.Equal(HttpStatusCode.Found, (await person.SignOutAsync()).StatusCode);

        await using (var scope = portal.Services.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
            var accounts = scope.ServiceProvider.GetRequiredService<UserAccounts>();
            var refused = await accounts.ChangeOwnPasswordAsync((await users.FindByIdAsync(id))!, "wrong current password", PasswordGenerator.Generate(), "192.0.2.7", CancellationToken.None);
            Assert.False(refused.Succeeded);
            var changed = await accounts.ChangeOwnPasswordAsync((await users.FindByIdAsync(id))!, user.Password, PasswordGenerator.Generate(), "192.0.2.7", CancellationToken.None);
            Assert.True(changed.Succeeded);
        }
        var passwordChanged = Assert.Single(await RowsAsync(portal, "user.password_changed"));
        Assert.Equal((id, "user:" + id, "192.0.2.7"), (passwordChanged.Actor, passwordChanged.Subject, passwordChanged.Payload.GetProperty("address").GetString()));

        var failed = await WaitForRowsAsync(portal, "user.sign_in_failed", rows => rows.Count >= 2, "both refused attempts are recorded");
        Assert.Equal(2, failed.Count);
        Assert.All(failed, r => Assert.Equal("anonymous", r.Actor));
        Assert.Equal(("user:" + id, "wrong password"), (failed[0].Subject, failed[0].Payload.GetProperty("reason").GetString()));
        Assert.Equal(("user:unknown", "unknown user"), (failed[1].Subject, failed[1].Payload.GetProperty("reason").GetString()));
        var signedOut = Assert.Single(await WaitForRowsAsync(portal, "user.signed_out", rows => rows.Count >= 1, "the sign-out is recorded"));
        Assert.Equal((id, "user:" + id), (signedOut.Actor, signedOut.Subject));

        Assert.Equal(0, await RowsContainingAsync(portal, TypedForNoUser));
        Assert.Equal(0, await RowsContainingAsync(portal, user.Password));
        // Nor the log: it has the refusal, not what was typed.
        Assert.DoesNotContain(TypedForNoUser, logs.Text, StringComparison.Ordinal);
        Assert.Contains("SignInFailed: subject (typed name, no such account)", logs.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(user.Password, logs.Text, StringComparison.Ordinal);
        Assert.True((await portal.Get<AuditVerification>().VerifyAsync(AuditVerificationMode.Full, CancellationToken.None)).Ok);
    }

    [Fact]
    public async Task A_sign_in_the_trail_cannot_record_gives_no_session()
    {
        await using var portal = await PortalFactory.StartAsync();
        var user = await portal.CreateUserAsync(Roles.OnCall);
        var client = portal.CreateBrowserClient();
        await AuditTestKit.ExecAsync(portal.Superuser(), "revoke insert on audit_events from portal_app");
        try
        {
            var response = await client.PostLoginFormAsync(user.Email, user.Password);

            Assert.NotEqual(HttpStatusCode.Found, response.StatusCode);
            Assert.False(response.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith(IdentitySetup.CookieName + "=", StringComparison.Ordinal)),
                "the sign-in cookie was sent");
            Assert.Equal(HttpStatusCode.Found, (await client.GetAsync(IdentitySetup.ManagePath)).StatusCode); // to the sign-in page
        }
        finally
        {
            await AuditTestKit.ExecAsync(portal.Superuser(), "grant insert on audit_events to portal_app");
        }
        Assert.Equal(HttpStatusCode.Found, (await client.PostLoginFormAsync(user.Email, user.Password)).StatusCode);
        Assert.Single(await RowsAsync(portal, "user.signed_in"));
    }

    [Fact]
    public async Task A_flood_of_throttled_sign_ins_is_a_record_per_window_counting_every_one()
    {
        var window = TimeSpan.FromSeconds(3);
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?>
        {
            ["Audit:RepeatedSecurityEventsWindow"] = "00:00:03",
            ["SignIn:AccountFreeFailures"] = "1",
            ["SignIn:FirstDelay"] = "00:00:30",
        });
        var user = await portal.CreateUserAsync(Roles.OnCall);
        var client = portal.CreateBrowserClient();
        Assert.NotEqual(HttpStatusCode.Found, (await client.PostLoginFormAsync(user.Email, "a first wrong guess")).StatusCode);

        const int Throttled = 20;
        var sending = Stopwatch.StartNew();
        for (var i = 0; i < Throttled; i++)
        {
            var reply = await client.PostLoginFormAsync(user.Email, $"guess {i}");
            Assert.Contains(SignInThrottle.WaitMessage, await reply.Content.ReadAsStringAsync());
        }
        sending.Stop();

        var records = await WaitForRowsAsync(portal, "user.sign_in_throttled",
            rows => rows.Sum(r => r.Payload.GetProperty("occurrences").GetInt32()) >= Throttled, "every throttled attempt is counted");
        Assert.Equal(Throttled, records.Sum(r => r.Payload.GetProperty("occurrences").GetInt32()));
        Assert.Equal(1, records[0].Payload.GetProperty("occurrences").GetInt32());
        // One at the first, then at most one per window while they kept coming, and one for the last window.
        Assert.InRange(records.Count, 2, 2 + (int)(sending.Elapsed / window));
        Assert.All(records, r => Assert.Equal(("anonymous", "sign-in"), (r.Actor, r.Subject)));
    }

    [Fact]
    public async Task Forged_trading_state_messages_on_Redis_are_audit_events_counted_and_made_printable()
    {
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?> { ["Audit:RepeatedSecurityEventsWindow"] = "00:00:02" });
        await using var attacker = await ConnectionMultiplexer.ConnectAsync(portal.RedisConnectionString);
        var channel = RedisChannel.Literal(portal.RedisKeyPrefix + "trading:state-changes");
        string[] forged = ["not json\u001b[31m", "{}", """{"scope":"strategy:x","mode":"ACTIVE","version":2}"""];
        foreach (var message in forged) await attacker.GetSubscriber().PublishAsync(channel, message);

        var records = await WaitForRowsAsync(portal, "security.forged_trading_state",
            rows => rows.Sum(r => r.Payload.GetProperty("occurrences").GetInt32()) >= forged.Length, "every forged message is counted");
        Assert.Equal(forged.Length, records.Sum(r => r.Payload.GetProperty("occurrences").GetInt32()));
        Assert.All(records, r => Assert.Equal((AuditedSecurityEventSink.ForgedActor, "redis", "redis-message"),
            (r.Actor, r.Subject, r.Payload.GetProperty("source").GetString())));
        Assert.DoesNotContain(records, r => r.Payload.ToString().Contains('\u001b'));
    }
}
