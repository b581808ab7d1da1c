using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;
using StackExchange.Redis;

namespace Portal.Tests.Features.Identity;

public sealed class SignInTests : IAsyncLifetime
{
    private const string EitherEndpoint = "/api/test/halt";
    private readonly RecordingSecurityEventSink _events = new();
    private PortalFactory _portal = null!;

    // A first wait of seconds, so that on a busy machine the attempt right after the fifth failure still falls inside it.
    public async Task InitializeAsync() => _portal = await PortalFactory.StartAsync(new Dictionary<string, string?> { ["SignIn:FirstDelay"] = "00:00:05" }, configure: builder =>
    {
        RecordingSecurityEventSink.Install(builder, _events);
        builder.ConfigureTestServices(services => services.AddSingleton<IStartupFilter, ScopeOrRoleProbe>());
    });

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task Signing_in_sets_an_http_only_strict_session_cookie_and_redirects_to_the_local_return_url()
    {
        var user = await _portal.CreateUserAsync(Roles.OnCall);
        var client = _portal.CreateBrowserClient();

        var response = await client.PostLoginFormAsync(user.Email, user.Password, returnUrl: "/account/manage");

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("/account/manage", LocalTarget(response));
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith(IdentitySetup.CookieName + "=", StringComparison.Ordinal));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("expires=", cookie, StringComparison.OrdinalIgnoreCase); // a session cookie, gone with the browser
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/account/manage")).StatusCode);

        var signedIn = Assert.Single(_events.For(user.Email));
        Assert.Equal(SecurityEventKind.SignInSucceeded, signedIn.Kind);
        Assert.Equal([Roles.OnCall], signedIn.Roles);
    }

    [Fact]
    public async Task Remember_this_device_gives_a_cookie_that_outlives_the_browser_for_the_configured_time()
    {
        var user = await _portal.CreateUserAsync(Roles.OnCall);
        var before = DateTimeOffset.UtcNow;

        var response = await _portal.CreateBrowserClient().PostLoginFormAsync(user.Email, user.Password, rememberDevice: true);

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith(IdentitySetup.CookieName + "=", StringComparison.Ordinal));
        var expires = DateTimeOffset.Parse(cookie.Split(';').Select(p => p.Trim()).Single(p => p.StartsWith("expires=", StringComparison.OrdinalIgnoreCase))["expires=".Length..],
            System.Globalization.CultureInfo.InvariantCulture);
        var rememberFor = _portal.Get<Microsoft.Extensions.Options.IOptions<SignInThrottleOptions>>().Value.RememberDeviceFor;
        Assert.InRange(expires, before + rememberFor - TimeSpan.FromMinutes(1), DateTimeOffset.UtcNow + rememberFor + TimeSpan.FromMinutes(1));

        // The browser closed and opened again: only the cookie is left, and it still signs the person in.
        var reopened = _portal.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        reopened.DefaultRequestHeaders.Add("Cookie", cookie.Split(';')[0]);
        Assert.Equal(HttpStatusCode.OK, (await reopened.GetAsync("/account/manage")).StatusCode);
    }

    [Fact]
    public async Task The_session_carries_the_users_role_claims()
    {
        var user = await _portal.CreateUserAsync(Roles.RiskOfficer, Roles.Compliance);
        var client = await _portal.SignInAsync(user);

        var me = await client.GetFromJsonAsync<AccountEndpoints.Me>("/api/account/me");

        Assert.Equal(user.Email, me!.UserName);
        Assert.Equal([Roles.Compliance, Roles.RiskOfficer], me.Roles);
    }

    [Fact]
    public async Task A_wrong_password_or_an_unknown_email_fails_with_the_same_answer_and_no_session()
    {
        var user = await _portal.CreateUserAsync(Roles.Admin);
        var client = _portal.CreateBrowserClient();

        var wrong = await client.PostLoginFormAsync(user.Email, user.Password + "x");
        var unknown = await client.PostLoginFormAsync("nobody-" + Guid.NewGuid().ToString("N")[..8] + "@test.local", user.Password);

        foreach (var response in new[] { wrong, unknown })
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("Wrong email or password.", await response.Content.ReadAsStringAsync());
            Assert.False(response.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith(IdentitySetup.CookieName + "=", StringComparison.Ordinal)));
        }
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/account/me")).StatusCode);
        var failed = Assert.Single(_events.For(user.Email));
        Assert.Equal((SecurityEventKind.SignInFailed, "wrong password"), (failed.Kind, failed.Reason));
        Assert.NotNull(failed.UserId);
        Assert.Contains(_events.Events, e => e is { Kind: SecurityEventKind.SignInFailed, Reason: "unknown user", UserId: null });
    }

    [Fact]
    public async Task Repeated_failures_slow_the_account_down_for_seconds_instead_of_locking_it_out()
    {
        var user = await _portal.CreateUserAsync(Roles.RiskOfficer);
        var client = _portal.CreateBrowserClient();

        for (var attempt = 1; attempt <= 5; attempt++)
            Assert.Contains("Wrong email or password.", await (await client.PostLoginFormAsync(user.Email, "wrong-password-" + attempt)).Content.ReadAsStringAsync());
        var right = await client.PostLoginFormAsync(user.Email, user.Password);
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        Assert.Contains(SignInThrottle.WaitMessage, await right.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/account/me")).StatusCode);

        // The wait is seconds (capped), not Identity's 15-minute lockout that an attacker could keep renewing for every officer.
        await Poll.UntilAsync(async () => (await client.PostLoginFormAsync(user.Email, user.Password)).StatusCode == HttpStatusCode.Found,
            "the right password signs in once the backoff has passed", TimeSpan.FromSeconds(30));
        await using var scope = _portal.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
        Assert.Null(await users.GetLockoutEndDateAsync((await users.FindByEmailAsync(user.Email))!));

        var kinds = _events.For(user.Email).Select(e => (e.Kind, e.Reason)).ToList();
        Assert.Equal(5, kinds.Count(k => k == (SecurityEventKind.SignInFailed, "wrong password")));
        Assert.Contains((SecurityEventKind.SignInFailed, "throttled"), kinds);
        Assert.Equal(SecurityEventKind.SignInSucceeded, kinds[^1].Kind);
    }

    /// <summary>Anyone on Redis' network can delete the shared counts: that may not lift the wait this instance counted.</summary>
    [Fact]
    public async Task Emptying_the_counts_in_Redis_does_not_lift_the_wait_after_repeated_failures()
    {
        var user = await _portal.CreateUserAsync(Roles.RiskOfficer);
        var client = _portal.CreateBrowserClient();
        for (var attempt = 1; attempt <= 5; attempt++)
            Assert.Contains("Wrong email or password.", await (await client.PostLoginFormAsync(user.Email, "wrong-password-" + attempt)).Content.ReadAsStringAsync());
        var redis = _portal.Get<IConnectionMultiplexer>();
        await foreach (var key in redis.GetServers()[0].KeysAsync(pattern: _portal.RedisKeyPrefix + "signin:*")) await redis.GetDatabase().KeyDeleteAsync(key);

        var right = await client.PostLoginFormAsync(user.Email, user.Password);

        Assert.Contains(SignInThrottle.WaitMessage, await right.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task An_unknown_account_is_throttled_with_the_same_answer_as_a_real_one()
    {
        var user = await _portal.CreateUserAsync(Roles.OnCall);
        var unknown = "nobody-" + Guid.NewGuid().ToString("N")[..8] + "@test.local";
        var client = _portal.CreateBrowserClient();

        var answers = new List<string>();
        foreach (var email in new[] { user.Email, unknown })
        {
            for (var attempt = 1; attempt <= 5; attempt++) await client.PostLoginFormAsync(email, "wrong-password-" + attempt);
            answers.Add(await (await client.PostLoginFormAsync(email, "wrong-password-6")).Content.ReadAsStringAsync());
        }

        Assert.All(answers, a => Assert.Contains(SignInThrottle.WaitMessage, a));
        Assert.All(answers, a => Assert.DoesNotContain("locked", a, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Failures_from_one_address_slow_down_that_address_across_accounts()
    {
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?> { ["SignIn:AddressFreeFailures"] = "3", ["SignIn:FirstDelay"] = "00:00:05" });
        var user = await portal.CreateUserAsync(Roles.RiskOfficer);
        var client = portal.CreateBrowserClient();

        for (var attempt = 1; attempt <= 3; attempt++)
            await client.PostLoginFormAsync($"spray-{attempt}-{Guid.NewGuid():N}@test.local", "Winter2026!Winter");
        var right = await client.PostLoginFormAsync(user.Email, user.Password);

        Assert.Contains(SignInThrottle.WaitMessage, await right.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/account/me")).StatusCode);
    }

    [Fact]
    public async Task An_anonymous_api_request_gets_401_problem_details_not_a_redirect()
    {
        var client = _portal.CreateBrowserClient();
        foreach (var response in new[] { await client.GetAsync("/api/account/me"), await client.PostAsync(EitherEndpoint, null), await client.GetAsync("/api/no-such-endpoint") })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Null(response.Headers.Location);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(401, (await response.JsonAsync()).GetProperty("status").GetInt32());
        }
    }

    /// <summary>
    /// A session cookie signed with Portal's own keys, for a real user, but past its expiry is refused like no cookie. The
    /// same cookie minted unexpired is accepted, so the refusal is the expiry's doing.
    /// </summary>
    [Fact]
    public async Task An_expired_session_cookie_signed_with_portals_keys_gets_401()
    {
        var user = await _portal.CreateUserAsync(Roles.Compliance);
        ClaimsPrincipal principal;
        await using (var scope = _portal.Services.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
            principal = await scope.ServiceProvider.GetRequiredService<SignInManager<IdentityUser>>().CreateUserPrincipalAsync((await users.FindByEmailAsync(user.Email))!);
        }
        var cookies = _portal.Services.GetRequiredService<IOptionsMonitor<CookieAuthenticationOptions>>().Get(IdentityConstants.ApplicationScheme);
        var now = DateTimeOffset.UtcNow;
        string Mint(DateTimeOffset issued, DateTimeOffset expires) => cookies.TicketDataFormat.Protect(
            new AuthenticationTicket(principal, new AuthenticationProperties { IssuedUtc = issued, ExpiresUtc = expires }, IdentityConstants.ApplicationScheme));
        async Task<HttpResponseMessage> MeWith(string cookie)
        {
            var client = _portal.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/account/me");
            request.Headers.Add("Cookie", $"{IdentitySetup.CookieName}={cookie}");
            return await client.SendAsync(request);
        }

        Assert.Equal(HttpStatusCode.OK, (await MeWith(Mint(now.AddMinutes(-1), now.AddHours(1)))).StatusCode);
        var expired = await MeWith(Mint(now - IdentitySetup.SessionLifetime - TimeSpan.FromHours(1), now.AddHours(-1)));

        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        Assert.Equal("application/problem+json", expired.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_cookie_of_the_wrong_role_gets_403_problem_details_from_the_api()
    {
        var compliance = await _portal.ClientSignedInAsAsync(Roles.Compliance);
        var noRole = await _portal.ClientSignedInAsAsync();

        foreach (var response in new[] { await compliance.PostAsync(EitherEndpoint, null), await noRole.GetAsync("/api/account/me") })
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Null(response.Headers.Location);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(403, (await response.JsonAsync()).GetProperty("status").GetInt32());
        }
    }

    [Fact]
    public async Task A_scope_or_role_policy_admits_the_api_key_with_the_scope_and_people_with_the_roles()
    {
        async Task<HttpStatusCode> Halt(HttpClient client) => (await client.PostAsync(EitherEndpoint, null)).StatusCode;

        Assert.Equal(HttpStatusCode.OK, await Halt(await _portal.ClientWithScopesAsync(Scopes.Halt)));
        Assert.Equal(HttpStatusCode.OK, await Halt(await _portal.ClientSignedInAsAsync(Roles.OnCall)));
        Assert.Equal(HttpStatusCode.OK, await Halt(await _portal.ClientSignedInAsAsync(Roles.RiskOfficer)));
        Assert.Equal(HttpStatusCode.Forbidden, await Halt(await _portal.ClientWithScopesAsync(Scopes.Orders)));
        Assert.Equal(HttpStatusCode.Forbidden, await Halt(await _portal.ClientSignedInAsAsync(Roles.Admin)));

        // A request is one principal: with an Authorization header it is the API key, and a cookie beside it is ignored.
        var onCall = await _portal.ClientSignedInAsAsync(Roles.OnCall);
        onCall.DefaultRequestHeaders.Authorization = new("Bearer", "pk_not-a-key");
        Assert.Equal(HttpStatusCode.Unauthorized, await Halt(onCall));
    }

    [Fact]
    public async Task A_sign_in_cookie_does_not_open_the_machine_only_apis()
    {
        var riskOfficer = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        var response = await riskOfficer.GetAsync("/api/orders/some-order");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Null(response.Headers.Location);
    }

    [Fact]
    public async Task A_protected_page_sends_anonymous_visitors_to_sign_in_and_the_wrong_role_to_access_denied()
    {
        var anonymous = await _portal.CreateBrowserClient().GetAsync("/account/manage?tab=x");
        Assert.Equal(HttpStatusCode.Found, anonymous.StatusCode);
        Assert.Equal("/account/login?returnUrl=%2Faccount%2Fmanage%3Ftab%3Dx", anonymous.Headers.Location!.PathAndQuery);

        var noRole = await (await _portal.ClientSignedInAsAsync()).GetAsync("/account/manage");
        Assert.Equal(HttpStatusCode.Found, noRole.StatusCode);
        Assert.StartsWith("/account/access-denied", noRole.Headers.Location!.PathAndQuery);
    }

    [Fact]
    public async Task Access_denied_names_the_page_and_the_roles_that_may_open_it()
    {
        var compliance = await _portal.ClientSignedInAsAsync(Roles.Compliance);
        var refused = await compliance.GetAsync("/admin");
        Assert.Equal(HttpStatusCode.Found, refused.StatusCode);

        var page = await compliance.GetStringAsync(refused.Headers.Location);

        Assert.Contains("The page <code>/admin</code> is open to Admin only", page);
        // A return URL that is not a page of this site is named nowhere.
        var elsewhere = await compliance.GetStringAsync("/account/access-denied?ReturnUrl=%2F%2Fevil.example%2Fadmin");
        Assert.DoesNotContain("evil.example", elsewhere);
        Assert.Contains("Your role does not allow that page or action", elsewhere);
    }

    [Fact]
    public async Task The_sign_in_form_requires_its_antiforgery_token()
    {
        var user = await _portal.CreateUserAsync(Roles.OnCall);
        var client = _portal.CreateBrowserClient();
        var fields = await SignIn.FormFieldsAsync(client, IdentitySetup.LoginPath, "login");
        fields.Remove("__RequestVerificationToken");
        fields["Input.Email"] = user.Email;
        fields["Input.Password"] = user.Password;

        var response = await client.PostAsync(IdentitySetup.LoginPath, new FormUrlEncodedContent(fields));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/account/me")).StatusCode);
        Assert.Empty(_events.For(user.Email));
    }

    [Fact]
    public async Task Signing_out_needs_a_post_with_the_antiforgery_token_and_ends_the_session()
    {
        var user = await _portal.CreateUserAsync(Roles.Compliance);
        var client = await _portal.SignInAsync(user);

        var forged = await client.PostAsync(IdentitySetup.LogoutPath, new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/account/me")).StatusCode);
        Assert.True((await client.GetAsync(IdentitySetup.LogoutPath)).StatusCode is HttpStatusCode.MethodNotAllowed or HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/account/me")).StatusCode);

        var signedOut = await client.SignOutAsync();
        Assert.Equal(HttpStatusCode.Found, signedOut.StatusCode);
        Assert.Equal("/account/login?signedOut=1", signedOut.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/account/me")).StatusCode);
        Assert.Contains(_events.For(user.Email), e => e.Kind == SecurityEventKind.SignedOut);
    }

    [Theory]
    [InlineData("https://evil.example/phish")]
    [InlineData("//evil.example/phish")]
    [InlineData("/\\evil.example")]
    public async Task A_return_url_off_this_site_is_not_followed(string returnUrl)
    {
        var user = await _portal.CreateUserAsync(Roles.OnCall);
        var response = await _portal.CreateBrowserClient().PostLoginFormAsync(user.Email, user.Password, returnUrl);
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("/", LocalTarget(response));
    }

    [Fact]
    public async Task Changing_the_password_keeps_the_session_and_retires_the_old_password()
    {
        var user = await _portal.CreateUserAsync(Roles.RiskOfficer);
        var client = await _portal.SignInAsync(user);
        var fields = await SignIn.FormFieldsAsync(client, IdentitySetup.ManagePath, "change-password");
        var newPassword = PasswordGenerator.Generate();
        fields["Input.Current"] = user.Password;
        fields["Input.New"] = newPassword;
        fields["Input.Confirm"] = newPassword;

        var response = await client.PostAsync(IdentitySetup.ManagePath, new FormUrlEncodedContent(fields));

        Assert.Contains("Your password is changed.", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/account/me")).StatusCode);
        Assert.Contains("Wrong email or password.", await (await _portal.CreateBrowserClient().PostLoginFormAsync(user.Email, user.Password)).Content.ReadAsStringAsync());
        await _portal.SignInAsync(user with { Password = newPassword });
        Assert.Contains(_events.For(user.Email), e => e.Kind == SecurityEventKind.PasswordChanged);
    }

    /// <summary>
    /// Whoever holds a session (an unlocked laptop, a stolen cookie) must not be able to guess the password through the
    /// change-password form: a wrong current password counts against the sign-in throttle and is recorded, as when adding
    /// a passkey. It was neither.
    /// </summary>
    [Fact]
    public async Task A_session_cannot_be_used_to_guess_the_password_through_the_change_password_form()
    {
        var user = await _portal.CreateUserAsync(Roles.RiskOfficer);
        var client = await _portal.SignInAsync(user);
        async Task<string> ChangeAsync(string current)
        {
            var fields = await SignIn.FormFieldsAsync(client, IdentitySetup.ManagePath, "change-password");
            var next = PasswordGenerator.Generate();
            (fields["Input.Current"], fields["Input.New"], fields["Input.Confirm"]) = (current, next, next);
            return await (await client.PostAsync(IdentitySetup.ManagePath, new FormUrlEncodedContent(fields))).Content.ReadAsStringAsync();
        }

        for (var attempt = 1; attempt <= 5; attempt++) Assert.Contains("This is not your password.", await ChangeAsync("wrong-password-" + attempt));
        Assert.Contains(SignInThrottle.WaitMessage, await ChangeAsync(user.Password));

        Assert.Equal(5, _events.For(user.Email).Count(e => e.Kind == SecurityEventKind.PasswordConfirmationFailed));
        Assert.DoesNotContain(_events.For(user.Email), e => e.Kind == SecurityEventKind.PasswordChanged);
    }

    [Fact]
    public async Task Another_instance_on_the_same_database_accepts_the_session_cookie()
    {
        var client = await _portal.ClientSignedInAsAsync(Roles.OnCall);
        var cookie = (await client.GetAsync("/api/account/me")).RequestMessage!.Headers.GetValues("Cookie").Single();

        await using var other = _portal.WithWebHostBuilder(_ => { });
        var otherClient = other.CreateClient(new() { AllowAutoRedirect = false, HandleCookies = false });
        otherClient.DefaultRequestHeaders.Add("Cookie", cookie);

        Assert.Equal(HttpStatusCode.OK, (await otherClient.GetAsync("/api/account/me")).StatusCode);
    }

    [Fact]
    public async Task Account_pages_render_as_plain_html_and_the_other_pages_start_an_interactive_circuit()
    {
        var client = await _portal.ClientSignedInAsAsync(Roles.OnCall);
        const string circuitMarker = "<!--Blazor:{\"type\":\"server\"";

        var home = await client.GetStringAsync("/");
        Assert.Contains(circuitMarker, home);
        Assert.Contains("id=\"logout-form\"", home);
        Assert.Contains("__RequestVerificationToken", home);
        foreach (var page in new[] { IdentitySetup.LoginPath, IdentitySetup.ManagePath, IdentitySetup.AccessDeniedPath })
            Assert.DoesNotContain(circuitMarker, await client.GetStringAsync(page));
    }

    /// <summary>The redirect's path and query, after checking it stays on this site.</summary>
    private static string LocalTarget(HttpResponseMessage response)
    {
        var location = response.Headers.Location!;
        if (location.IsAbsoluteUri) Assert.Equal("localhost", location.Host);
        return location.IsAbsoluteUri ? location.PathAndQuery : location.OriginalString;
    }

    /// <summary>A probe endpoint guarded the way the kill switch's halt endpoint will be: scope halt, or OnCall/RiskOfficer.</summary>
    private sealed class ScopeOrRoleProbe : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.UseWhen(context => context.Request.Path.StartsWithSegments("/api/test"), branch =>
            {
                branch.UseRouting();
                branch.UseAuthentication();
                branch.UseAuthorization();
                branch.UseEndpoints(endpoints => endpoints
                    .MapPost(EitherEndpoint, (ClaimsPrincipal user) => Results.Ok(new { actor = user.Identity?.Name }))
                    .RequireScopeOr(Scopes.Halt, Policies.CanHalt));
            });
            next(app);
        };
    }
}
