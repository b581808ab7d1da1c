using System.Buffers.Text;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Portal.Features.Identity;
using Portal.Tests.Features.Audit;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Identity;

/// <summary>
/// /api/account/passkeys over HTTP: who may call what (a person manages only their own passkeys; the sign-in steps are
/// anonymous), that every write needs the page's antiforgery token, and that bad input is RFC 7807 problem details naming
/// the field. The WebAuthn ceremony itself runs in a real browser (PasskeyBrowserTests).
/// </summary>
public sealed class PasskeyEndpointTests : IAsyncLifetime
{
    private const string Base = PasskeyEndpoints.Prefix;
    private readonly RecordingSecurityEventSink _events = new();
    private PortalFactory _portal = null!;

    public async Task InitializeAsync() =>
        _portal = await PortalFactory.StartAsync(configure: builder => RecordingSecurityEventSink.Install(builder, _events));

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task Anonymous_callers_get_401_problem_details_from_every_endpoint_that_manages_passkeys()
    {
        var anonymous = _portal.CreateBrowserClient();
        foreach (var (method, url) in ManagingEndpoints)
        {
            using var response = await anonymous.SendAsync(Json(method, url, new { }));
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method} {url}: {(int)response.StatusCode}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task A_signed_in_person_without_a_role_gets_403_and_an_api_key_is_refused()
    {
        // Refused before the antiforgery check: authorization comes first.
        var noRole = await _portal.ClientSignedInAsAsync();
        var apiKey = await _portal.ClientWithScopesAsync("halt");
        foreach (var (method, url) in ManagingEndpoints)
        {
            using var response = await noRole.SendAsync(Json(method, url, new { }));
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{method} {url} without a role: {(int)response.StatusCode}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            // An API key is a machine: the policy reads only the sign-in cookie, so it is not even authenticated here.
            using var keyed = await apiKey.SendAsync(Json(method, url, new { }));
            Assert.True(keyed.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden, $"{method} {url} with an API key: {(int)keyed.StatusCode}");
            Assert.Equal("application/problem+json", keyed.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task Every_write_without_the_pages_antiforgery_token_is_refused_with_a_problem()
    {
        var staff = await _portal.ClientSignedInAsAsync(Roles.Compliance);
        foreach (var (method, url) in ManagingEndpoints.Where(e => e.Method != "GET"))
            await AssertProblemAsync(await staff.SendAsync(Json(method, url, new { })), HttpStatusCode.BadRequest, "Antiforgery");
        var anonymous = _portal.CreateBrowserClient();
        foreach (var url in new[] { Base + "/request-options", Base + "/sign-in" })
            await AssertProblemAsync(await anonymous.SendAsync(Json("POST", url, new { credentialJson = "{}" })), HttpStatusCode.BadRequest, "Antiforgery");
    }

    [Fact]
    public async Task A_person_gets_creation_options_for_themselves_and_bad_registrations_are_400_problems_naming_the_field()
    {
        var user = await _portal.CreateUserAsync(Roles.RiskOfficer);
        var client = await _portal.SignInAsync(user);
        var token = await SignIn.AntiforgeryTokenAsync(client, IdentitySetup.ManagePath);

        using var options = await client.SendAsync(Json("POST", Base + "/creation-options", new { password = user.Password }, token));
        Assert.Equal(HttpStatusCode.OK, options.StatusCode);
        using (var json = JsonDocument.Parse(await options.Content.ReadAsStringAsync()))
        {
            Assert.Equal(user.Email, json.RootElement.GetProperty("user").GetProperty("name").GetString());
            Assert.True(json.RootElement.GetProperty("challenge").GetString()!.Length >= 40);
            Assert.Equal("required", json.RootElement.GetProperty("authenticatorSelection").GetProperty("residentKey").GetString());
            Assert.Equal("required", json.RootElement.GetProperty("authenticatorSelection").GetProperty("userVerification").GetString());
        }

        await AssertFieldAsync(await client.SendAsync(Json("POST", Base, new { name = "laptop" }, token)), "credentialJson");
        await AssertFieldAsync(await client.SendAsync(Json("POST", Base, new { credentialJson = "{}", name = new string('x', 65) }, token)), "name");
        await AssertFieldAsync(await client.SendAsync(Json("POST", Base, new { credentialJson = "{}", name = "tab\there" }, token)), "name");
        await AssertFieldAsync(await client.SendAsync(Json("POST", Base, new { credentialJson = new string('x', 70_000) }, token)), "credentialJson");
        // Not an authenticator's answer to the options just given.
        await AssertFieldAsync(await client.SendAsync(Json("POST", Base, new { credentialJson = """{"id":"AAAA","type":"public-key"}""" }, token)), "credentialJson");
        // No options asked for since (Identity keeps one ceremony at a time, and the last one was used up).
        await AssertFieldAsync(await client.SendAsync(Json("POST", Base, new { credentialJson = "{}" }, token)), "credentialJson");

        // Not JSON at all: still problem details.
        using var garbled = new HttpRequestMessage(HttpMethod.Post, Base) { Content = new StringContent("{not json", Encoding.UTF8, "application/json") };
        garbled.Headers.Add(CookieApiWriteGuard.AntiforgeryHeader, token);
        await AssertProblemAsync(await client.SendAsync(garbled), HttpStatusCode.BadRequest, null);

        Assert.Empty(await client.GetFromJsonAsync<List<PasskeySummary>>(Base) ?? throw new InvalidOperationException());
        Assert.DoesNotContain(_events.For(user.Email), e => e.Kind == SecurityEventKind.PasskeyAdded);
    }

    [Fact]
    public async Task A_stolen_session_cannot_add_a_passkey_without_the_account_password()
    {
        // Whoever holds someone's session cookie (an unlocked laptop, a stolen cookie) could otherwise give themselves a
        // passkey that outlives the session and a password change.
        var user = await _portal.CreateUserAsync(Roles.OnCall);
        var client = await _portal.SignInAsync(user);
        var token = await SignIn.AntiforgeryTokenAsync(client, IdentitySetup.ManagePath);

        await AssertFieldAsync(await client.SendAsync(Json("POST", Base + "/creation-options", null, token)), "password");
        await AssertFieldAsync(await client.SendAsync(Json("POST", Base + "/creation-options", new { password = "" }, token)), "password");
        await AssertFieldAsync(await client.SendAsync(Json("POST", Base + "/creation-options", new { password = user.Password + "x" }, token)), "password");
        Assert.Contains(_events.For(user.Email), e => e.Kind == SecurityEventKind.PasswordConfirmationFailed);
        // Without options no registration can be finished either.
        await AssertFieldAsync(await client.SendAsync(Json("POST", Base, new { credentialJson = """{"id":"AAAA","type":"public-key"}""" }, token)), "credentialJson");

        using var options = await client.SendAsync(Json("POST", Base + "/creation-options", new { password = user.Password }, token));
        Assert.Equal(HttpStatusCode.OK, options.StatusCode);
    }

    [Fact]
    public async Task A_person_lists_renames_and_removes_only_their_own_passkeys_and_each_change_is_recorded()
    {
        var owner = await _portal.CreateUserAsync(Roles.OnCall);
        var credentialId = await GivePasskeyAsync(owner.Email, "old name");
        var id = Base64Url.EncodeToString(credentialId);
        var ownerClient = await _portal.SignInAsync(owner);
        var ownerToken = await SignIn.AntiforgeryTokenAsync(ownerClient, IdentitySetup.ManagePath);
        var other = await _portal.ClientSignedInAsAsync(Roles.Admin);
        var otherToken = await SignIn.AntiforgeryTokenAsync(other, IdentitySetup.ManagePath);

        var listed = Assert.Single(await ownerClient.GetFromJsonAsync<List<PasskeySummary>>(Base) ?? []);
        Assert.Equal(id, listed.Id);
        Assert.Equal("old name", listed.Name);
        Assert.Empty(await other.GetFromJsonAsync<List<PasskeySummary>>(Base) ?? []);

        // Someone else's passkey is not theirs to see, rename or remove: it answers as one that does not exist.
        await AssertProblemAsync(await other.SendAsync(Json("PATCH", $"{Base}/{id}", new { name = "taken" }, otherToken)), HttpStatusCode.NotFound, null);
        await AssertProblemAsync(await other.SendAsync(Json("DELETE", $"{Base}/{id}", null, otherToken)), HttpStatusCode.NotFound, null);

        await AssertFieldAsync(await ownerClient.SendAsync(Json("PATCH", $"{Base}/{id}", new { name = " " }, ownerToken)), "name");
        await AssertFieldAsync(await ownerClient.SendAsync(Json("DELETE", $"{Base}/not*base64url", null, ownerToken)), "id");
        using (var renamed = await ownerClient.SendAsync(Json("PATCH", $"{Base}/{id}", new { name = "phone" }, ownerToken)))
        {
            Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
            Assert.Equal("phone", (await renamed.Content.ReadFromJsonAsync<PasskeySummary>())!.Name);
        }
        using (var removed = await ownerClient.SendAsync(Json("DELETE", $"{Base}/{id}", null, ownerToken)))
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        Assert.Empty(await ownerClient.GetFromJsonAsync<List<PasskeySummary>>(Base) ?? []);

        var events = _events.For(owner.Email);
        var renamedEvent = Assert.Single(events, e => e.Kind == SecurityEventKind.PasskeyRenamed);
        Assert.Contains("'phone'", renamedEvent.Reason, StringComparison.Ordinal);
        var removedEvent = Assert.Single(events, e => e.Kind == SecurityEventKind.PasskeyRemoved);
        Assert.Equal(PasskeyAccounts.Method, removedEvent.Method);
        // Named and fingerprinted, never the key or the credential id itself.
        Assert.DoesNotContain(id, removedEvent.Reason, StringComparison.Ordinal);

        // In the audit trail too, committed with the change; another person's failed attempts left nothing there.
        var trail = await _portal.EventsAsync("user.passkey_");
        Assert.Equal([PasskeyAccounts.RenamedType, PasskeyAccounts.RemovedType], trail.Select(e => e.Type));
        Assert.All(trail, e => Assert.Equal(owner.Email, e.Actor));
        Assert.Equal("phone", trail[^1].Payload.GetProperty("passkey").GetString());
        Assert.DoesNotContain(id, trail[^1].Payload.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Passkey_sign_in_is_anonymous_answers_a_bad_passkey_with_401_and_a_malformed_request_with_400()
    {
        var anonymous = _portal.CreateBrowserClient();
        var token = await SignIn.AntiforgeryTokenAsync(anonymous, IdentitySetup.LoginPath);

        using var options = await anonymous.SendAsync(Json("POST", Base + "/request-options", null, token));
        Assert.Equal(HttpStatusCode.OK, options.StatusCode);
        using (var json = JsonDocument.Parse(await options.Content.ReadAsStringAsync()))
            Assert.True(json.RootElement.GetProperty("challenge").GetString()!.Length >= 40);

        await AssertFieldAsync(await anonymous.SendAsync(Json("POST", Base + "/sign-in", new { rememberDevice = true }, token)), "credentialJson");
        var forged = """{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"AAAA","authenticatorData":"AAAA","signature":"AAAA"}}""";
        await AssertProblemAsync(await anonymous.SendAsync(Json("POST", Base + "/sign-in", new { credentialJson = forged }, token)), HttpStatusCode.Unauthorized, "Passkey not accepted");
        Assert.Contains(_events.Events, e => e.Kind == SecurityEventKind.SignInFailed && e.Method == PasskeyAccounts.Method);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/account/me")).StatusCode);
    }

    [Fact]
    public async Task Failed_passkey_sign_ins_are_throttled_per_address_like_passwords()
    {
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?>
        {
            ["SignIn:AddressFreeFailures"] = "2",
            ["SignIn:FirstDelay"] = "00:00:10",
        });
        var anonymous = portal.CreateBrowserClient();
        var token = await SignIn.AntiforgeryTokenAsync(anonymous, IdentitySetup.LoginPath);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var options = await anonymous.SendAsync(Json("POST", Base + "/request-options", null, token));
            Assert.Equal(HttpStatusCode.OK, options.StatusCode);
            using var response = await anonymous.SendAsync(Json("POST", Base + "/sign-in", new { credentialJson = """{"id":"AAAA"}""" }, token));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests) await AssertProblemAsync(response, HttpStatusCode.TooManyRequests, null);
        }
        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests], statuses);
    }

    private static readonly (string Method, string Url)[] ManagingEndpoints =
    [
        ("GET", Base),
        ("POST", Base + "/creation-options"),
        ("POST", Base),
        ("PATCH", Base + "/AAAA"),
        ("DELETE", Base + "/AAAA"),
    ];

    /// <summary>Stores a made-up passkey for <paramref name="email"/> straight through Identity (no authenticator here); its credential id.</summary>
    private async Task<byte[]> GivePasskeyAsync(string email, string name)
    {
        await using var scope = _portal.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
        var user = await users.FindByEmailAsync(email) ?? throw new InvalidOperationException(email);
        var credentialId = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        var passkey = new UserPasskeyInfo(credentialId, publicKey: new byte[77], createdAt: DateTimeOffset.UtcNow, signCount: 0, transports: ["internal"],
            isUserVerified: true, isBackupEligible: false, isBackedUp: false, attestationObject: new byte[10], clientDataJson: new byte[10]) { Name = name };
        var result = await users.AddOrUpdatePasskeyAsync(user, passkey);
        Assert.True(result.Succeeded, string.Join(" ", result.Errors.Select(e => e.Description)));
        return credentialId;
    }

    private static HttpRequestMessage Json(string method, string url, object? body, string? antiforgeryToken = null)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), url);
        if (body is not null) request.Content = JsonContent.Create(body);
        if (antiforgeryToken is not null) request.Headers.Add(CookieApiWriteGuard.AntiforgeryHeader, antiforgeryToken);
        return request;
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string? titleStart)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            using var json = JsonDocument.Parse(body);
            Assert.Equal((int)status, json.RootElement.GetProperty("status").GetInt32());
            if (titleStart is not null) Assert.StartsWith(titleStart, json.RootElement.GetProperty("title").GetString(), StringComparison.Ordinal);
        }
    }

    /// <summary>A 400 problem whose <c>errors</c> name <paramref name="field"/>.</summary>
    private static async Task AssertFieldAsync(HttpResponseMessage response, string field)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"expected 400 naming {field}, got {(int)response.StatusCode}: {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            using var json = JsonDocument.Parse(body);
            Assert.True(json.RootElement.GetProperty("errors").TryGetProperty(field, out _), $"errors do not name {field}: {body}");
        }
    }
}
