using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Portal.Domain.Audit;
using Portal.Features.Audit;
using Portal.Features.Auth;
using Portal.Infrastructure.Postgres;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Audit;

/// <summary>What the running system records, and that recording is part of the action.</summary>
public sealed class AuditEventsTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync();
        _portal.SetPrice("AAPL", 100m);
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task The_trail_shows_people_the_key_name_or_email_behind_an_actor_id()
    {
        var (key, record) = await _portal.Get<ApiKeyService>().CreateAsync("order-bot-1", [Scopes.Orders], strategies: [StrategyGrants.AllOpen]);
        var orders = _portal.CreateClient();
        orders.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        Assert.Equal(HttpStatusCode.Created, (await orders.PostOrderAsync(OrderRequests.Market("named-1", 1m))).StatusCode);
        var person = await _portal.CreateUserAsync(Portal.Features.Identity.Roles.RiskOfficer);
        string personId;
        using (var scope = _portal.Services.CreateScope())
            personId = (await scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.UserManager<Microsoft.AspNetCore.Identity.IdentityUser>>().FindByEmailAsync(person.Email))!.Id;
        await _portal.Get<AuditTrail>().AppendAsync(AuditEventDraft.Create(DateTimeOffset.UtcNow, personId, "test.by_person", "test", new { }));

        var search = _portal.Get<IAuditSearch>();
        var head = await search.HeadSeqAsync(CancellationToken.None);
        var byKey = Assert.Single(await search.PageAsync(new AuditFilter(Types: ["order.accepted"]), head, 0, 10, CancellationToken.None));
        Assert.Equal(("apikey:" + record.Id, "order-bot-1"), (byKey.Actor, byKey.ActorName));
        var byPerson = Assert.Single(await search.PageAsync(new AuditFilter(Types: ["test.by_person"]), head, 0, 10, CancellationToken.None));
        Assert.Equal((personId, person.Email), (byPerson.Actor, byPerson.ActorName));
        Assert.Equal(person.Email, (await search.FindAsync(byPerson.Seq, CancellationToken.None))!.ActorName);
        var bySystem = (await search.PageAsync(new AuditFilter(Types: ["broker.fill"]), head, 0, 10, CancellationToken.None))[0];
        Assert.Equal(("broker:paper", (string?)null), (bySystem.Actor, bySystem.ActorName));
    }

    [Fact]
    public async Task An_order_decision_and_the_brokers_acknowledgement_and_fill_are_recorded_once()
    {
        var orders = await _portal.ClientWithScopesAsync(Scopes.Orders);
        var order = OrderRequests.Market("audit-1", 3m);
        Assert.Equal(HttpStatusCode.Created, (await orders.PostOrderAsync(order)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await orders.PostOrderAsync(order)).StatusCode); // a repeat records nothing new
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await orders.PostOrderAsync(OrderRequests.Market("audit-2", 1_000m))).StatusCode);

        var events = (await _portal.EventsAsync()).Where(e => e.Type.StartsWith("order.", StringComparison.Ordinal) || e.Type.StartsWith("broker.", StringComparison.Ordinal)).ToList();
        Assert.Equal(["order.accepted", "broker.order.acknowledged", "broker.fill", "order.rejected"], events.Select(e => e.Type));
        var accepted = events[0];
        Assert.StartsWith("apikey:", accepted.Actor);
        Assert.Equal("audit-1", accepted.Payload.GetProperty("clientOrderId").GetString());
        Assert.Equal("3", accepted.Payload.GetProperty("quantity").GetString());
        Assert.Equal("broker:paper", events[1].Actor);
        Assert.Equal("filled", events[2].Payload.GetProperty("status").GetString());
        Assert.Equal("100.0503", events[2].Payload.GetProperty("price").GetString());
        var rejected = events[3].Payload;
        Assert.Equal("MaxOrderValue", rejected.GetProperty("reason").GetString());
        Assert.Equal(5_000m, decimal.Parse(rejected.GetProperty("limit").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(100_000m, decimal.Parse(rejected.GetProperty("actual").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.DoesNotContain(events, e => e.Payload.GetRawText().Contains("pk_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task When_the_audit_write_fails_the_order_is_refused_and_not_sent()
    {
        var orders = await _portal.ClientWithScopesAsync(Scopes.Orders);
        await AuditTestKit.ExecAsync(_portal.Superuser(), "revoke insert on audit_events from portal_app");
        try
        {
            var response = await orders.PostOrderAsync(OrderRequests.Market("unaudited-1", 1m));

            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal(0, await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select count(*) from orders where client_order_id = 'unaudited-1'"));
            Assert.Equal(0, await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select count(*) from paper_orders"));
        }
        finally
        {
            await AuditTestKit.ExecAsync(_portal.Superuser(), "grant insert on audit_events to portal_app");
        }
    }

    [Fact]
    public async Task A_limit_change_is_recorded_with_old_and_new_values_and_who()
    {
        var admin = await _portal.ClientWithOwnedKeyAsync("key-owner@test.local", Scopes.Limits);
        // Four-eyes: the change is proposed now and takes effect when a second person approves it.
        Assert.Equal(HttpStatusCode.Accepted, (await admin.PutAsJsonAsync("/api/limits", new { reason = "tighten", limits = new { MaxOrderValueUsd = 250m } })).StatusCode);

        var initial = Assert.Single(await _portal.EventsAsync("limits.changed"));
        Assert.Equal("system", initial.Actor);
        var change = Assert.Single(await _portal.EventsAsync("limits.proposed"));
        Assert.StartsWith("apikey:", change.Actor);
        Assert.Equal("tighten", change.Payload.GetProperty("reason").GetString());
        Assert.Equal("5000", change.Payload.GetProperty("from").GetProperty("MaxOrderValueUsd").GetString());
        Assert.Equal("250", change.Payload.GetProperty("to").GetProperty("MaxOrderValueUsd").GetString());
    }

    [Fact]
    public async Task Api_key_creation_and_revocation_are_recorded_without_the_key()
    {
        var keys = _portal.Get<ApiKeyService>();
        var (key, record) = await keys.CreateAsync("audited-key", [Scopes.Audit], "user:alice");
        Assert.True(await keys.RevokeAsync("audited-key", "user:bob"));

        var events = (await _portal.EventsAsync("apikey.")).Where(e => e.Payload.GetProperty("name").GetString() == "audited-key").ToList();
        Assert.Equal(["apikey.created", "apikey.revoked"], events.Select(e => e.Type));
        Assert.Equal(["user:alice", "user:bob"], events.Select(e => e.Actor));
        Assert.Equal(record.Id, events[0].Payload.GetProperty("id").GetGuid());
        Assert.DoesNotContain(events, e => e.Payload.GetRawText().Contains(key[..10], StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_draft_that_cannot_be_sealed_fails_alone_in_its_batch()
    {
        var writer = _portal.Get<GroupCommitter>();
        JsonElement disposed;
        using (var document = JsonDocument.Parse("{\"a\":1}")) disposed = document.RootElement;
        var good = Enumerable.Range(0, 20).Select(i => writer.CommitAsync(new PgWork { AuditEvents = [AuditTestKit.Draft(i)] })).ToList();
        var bad = writer.CommitAsync(new PgWork { AuditEvents = [new AuditEventDraft(DateTimeOffset.UtcNow, "test", "test.bad", "x", disposed)] });

        await Task.WhenAll(good);
        await Assert.ThrowsAsync<AuditSealException>(() => bad);
        Assert.Equal(20, (await _portal.EventsAsync("test.")).Count);
        Assert.True((await _portal.Get<AuditVerification>().VerifyAsync(AuditVerificationMode.Full, CancellationToken.None)).Ok);
    }

    [Fact]
    public async Task An_event_appended_eventually_waits_out_a_failing_trail_and_keeps_its_time()
    {
        var trail = _portal.Get<AuditTrail>();
        var logs = new CapturedLogs();
        _portal.Get<ILoggerFactory>().AddProvider(logs);
        await AuditTestKit.ExecAsync(_portal.Superuser(), "revoke insert on audit_events from portal_app");
        Task recorded;
        try
        {
            recorded = trail.AppendEventuallyAsync(AuditTestKit.Draft(7, "halt"));
            await Poll.UntilAsync(() => logs.Text.Contains("could not be recorded (attempt 2)", StringComparison.Ordinal), "the trail refuses the event twice");
            Assert.False(recorded.IsCompleted);
        }
        finally
        {
            await AuditTestKit.ExecAsync(_portal.Superuser(), "grant insert on audit_events to portal_app");
        }
        await recorded.WaitAsync(TimeSpan.FromSeconds(10));

        var halt = Assert.Single(await _portal.EventsAsync("test."));
        Assert.Equal("halt", halt.Payload.GetProperty("note").GetString());
        Assert.Equal(new DateTimeOffset(2025, 3, 14, 9, 0, 0, 7, TimeSpan.Zero).ToUnixTimeMilliseconds(), await OrderRequests.ScalarAsync(
            _portal.AppConnectionString, "select (extract(epoch from time) * 1000)::bigint from audit_events where seq = $1", halt.Seq));
    }
}
