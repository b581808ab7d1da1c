using System.Net;
using System.Net.Http.Json;
using System.Text;
using Portal.Domain.Trading;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Features.Identity;
using Portal.Features.Limits;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Identity;

/// <summary>
/// A page on another origin (or a same-site one, such as another subdomain) makes the signed-in officer's browser
/// send a write to Portal's API with the session cookie. Each way a browser lets a page do that without reading
/// Portal's own pages is refused with 403 problem details and changes nothing; Portal's own same-origin fetches and
/// API keys are unaffected.
/// </summary>
public sealed class CrossSiteRequestTests : IAsyncLifetime
{
    private const string EvilOrigin = "http://evil.localhost";
    private const string HaltJson = """{"reason":"csrf","mode":"halt"}""";
    private PortalFactory _portal = null!;
    private HttpClient _officer = null!;
    private string _ownOrigin = null!;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync();
        _officer = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        _ownOrigin = _portal.Server.BaseAddress.GetLeftPart(UriPartial.Authority);
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    private TradingMode GlobalMode => _portal.Get<TradingStateStore>().Get(TradingScopes.Global).Mode;

    private async Task<HttpResponseMessage> PostStopAsync(HttpContent content, string? origin, string? fetchSite = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/emergency/stop") { Content = content };
        if (origin is not null) request.Headers.TryAddWithoutValidation("Origin", origin);
        if (fetchSite is not null) request.Headers.TryAddWithoutValidation("Sec-Fetch-Site", fetchSite);
        return await SendWithOfficerCookieAsync(request);
    }

    /// <summary>The officer's cookie goes with it, as a browser sends it on any request to Portal; the headers are the test's.</summary>
    private async Task<HttpResponseMessage> SendWithOfficerCookieAsync(HttpRequestMessage request)
    {
        _officer.DefaultRequestHeaders.Remove("Origin");
        return await _officer.SendAsync(request);
    }

    private static async Task AssertRefusedAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_form_post_with_the_session_cookie_is_refused_and_halts_nothing()
    {
        var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["reason"] = "csrf", ["mode"] = "halt" });
        await AssertRefusedAsync(await PostStopAsync(form, _ownOrigin));
        Assert.Equal(TradingMode.Active, GlobalMode);
    }

    [Fact]
    public async Task A_text_plain_json_post_with_the_session_cookie_is_refused_and_halts_nothing()
    {
        // What <form enctype="text/plain"> sends: a body a JSON parser accepts, without a CORS preflight.
        await AssertRefusedAsync(await PostStopAsync(new StringContent(HaltJson, Encoding.UTF8, "text/plain"), _ownOrigin));
        await AssertRefusedAsync(await PostStopAsync(new StringContent(HaltJson, Encoding.UTF8, "text/plain"), EvilOrigin, "same-site"));
        Assert.Equal(TradingMode.Active, GlobalMode);
    }

    [Fact]
    public async Task A_cross_origin_json_fetch_with_the_session_cookie_is_refused_and_halts_nothing()
    {
        await AssertRefusedAsync(await PostStopAsync(JsonContent.Create(new { reason = "csrf", mode = "halt" }), EvilOrigin, "same-site"));
        await AssertRefusedAsync(await PostStopAsync(JsonContent.Create(new { reason = "csrf", mode = "halt" }), origin: null, fetchSite: "cross-site"));
        // No Origin and no Sec-Fetch-Site at all: nothing says the request came from Portal's own pages.
        await AssertRefusedAsync(await PostStopAsync(JsonContent.Create(new { reason = "csrf", mode = "halt" }), origin: null));
        Assert.Equal(TradingMode.Active, GlobalMode);
    }

    [Fact]
    public async Task A_cross_origin_approval_with_the_session_cookie_is_refused_and_the_change_stays_pending()
    {
        var limitsKey = await _portal.ClientWithOwnedKeyAsync("key-owner@test.local", Scopes.Limits);
        var put = await limitsKey.PutAsJsonAsync("/api/limits", new { reason = "csrf test", limits = new { MaxOrderValueUsd = 250m } });
        var version = (await put.JsonAsync()).GetProperty("version").GetInt64();

        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/limits/pending/{version}/approve");
        request.Headers.TryAddWithoutValidation("Origin", EvilOrigin);
        await AssertRefusedAsync(await SendWithOfficerCookieAsync(request));
        Assert.NotEqual(version, _portal.Get<LimitStore>().Current!.Version);
    }

    [Fact]
    public async Task A_same_origin_json_fetch_and_an_api_key_still_halt()
    {
        var sameOrigin = await PostStopAsync(JsonContent.Create(new { reason = "own page", mode = "halt" }), _ownOrigin, "same-origin");
        Assert.Equal(HttpStatusCode.OK, sameOrigin.StatusCode);
        var fetchSiteOnly = await PostStopAsync(JsonContent.Create(new { reason = "own page", mode = "halt" }), origin: null, fetchSite: "same-origin");
        Assert.Equal(HttpStatusCode.OK, fetchSiteOnly.StatusCode);

        // A machine sends no Origin: its key, not an ambient cookie, is what authenticates it.
        var pager = await _portal.ClientWithScopesAsync(Scopes.Halt);
        Assert.Equal(HttpStatusCode.OK, (await pager.PostAsJsonAsync("/api/emergency/stop", new { reason = "pager", mode = "halt" })).StatusCode);
        Assert.Equal(TradingMode.Halted, GlobalMode);
    }
}
