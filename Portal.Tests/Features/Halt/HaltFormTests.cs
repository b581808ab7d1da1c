using System.Net;
using Portal.Domain.Trading;
using Portal.Features.Halt;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Halt;

/// <summary>
/// The plain halt form (/halt/form), which works without the live connection, over plain HTTP: the same people as the
/// halt page, flatten for RiskOfficers only, an antiforgery token and a confirmation on every post. Each refusal halts
/// nothing. (The browser path, with the live connection cut, is in HaltFormBrowserTests.)
/// </summary>
public sealed class HaltFormTests : IAsyncLifetime
{
    private const string FormPath = "/halt/form";
    private PortalFactory _portal = null!;

    public async Task InitializeAsync() => _portal = await PortalFactory.StartAsync();

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    private TradingMode GlobalMode => _portal.Get<TradingStateStore>().Get(TradingScopes.Global).Mode;

    /// <summary>The form's own hidden fields (antiforgery token, form name), then <paramref name="fields"/>.</summary>
    private static async Task<HttpResponseMessage> PostFormAsync(HttpClient client, Dictionary<string, string> fields, bool withToken = true)
    {
        var form = await SignIn.FormFieldsAsync(client, FormPath, "halt");
        if (!withToken) form.Remove("__RequestVerificationToken");
        foreach (var (name, value) in fields) form[name] = value;
        return await client.PostAsync(FormPath, new FormUrlEncodedContent(form));
    }

    private static Dictionary<string, string> Halt(string mode, bool confirmed = true) => new()
    {
        ["Input.Mode"] = mode,
        ["Input.Reason"] = "form test",
        ["Input.Confirmed"] = confirmed ? "true" : "false",
    };

    [Fact]
    public async Task OnCall_halts_with_the_form_and_sees_the_result_and_a_repeated_post_says_already_halted()
    {
        var onCall = await _portal.ClientSignedInAsAsync(Roles.OnCall);

        var first = await PostFormAsync(onCall, Halt("cancel"));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var html = await first.Content.ReadAsStringAsync();
        Assert.Contains("id=\"halt-form-result\"", html);
        Assert.Contains("Orders refused after", html);
        Assert.DoesNotContain("halt-form-already-halted", html);
        Assert.Equal(TradingMode.Halted, GlobalMode);
        Assert.Equal("form test", _portal.Get<TradingStateStore>().Get(TradingScopes.Global).Reason);

        var again = await PostFormAsync(onCall, Halt("halt"));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Contains("id=\"halt-form-already-halted\"", await again.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Already_halted_says_by_whom_with_their_email_not_their_user_id()
    {
        var first = await _portal.CreateUserAsync(Roles.OnCall);
        await PostFormAsync(await _portal.SignInAsync(first), Halt("halt"));
        var firstId = _portal.Get<TradingStateStore>().Get(TradingScopes.Global).ChangedBy;
        Assert.NotEqual(first.Email, firstId);

        var again = await PostFormAsync(await _portal.ClientSignedInAsAsync(Roles.OnCall), Halt("halt"));

        var html = System.Net.WebUtility.HtmlDecode(await again.Content.ReadAsStringAsync());
        Assert.Matches($@"Trading was already halted \(by {System.Text.RegularExpressions.Regex.Escape(first.Email)} since \d{{4}}-\d{{2}}-\d{{2}} \d{{2}}:\d{{2}}:\d{{2}} UTC\)", html);
        Assert.DoesNotContain($"by {firstId} since", html);
    }

    [Fact]
    public async Task Actor_names_are_a_persons_email_or_a_keys_name_and_nothing_for_system_actors()
    {
        var person = await _portal.CreateUserAsync(Roles.OnCall);
        await PostFormAsync(await _portal.SignInAsync(person), Halt("halt"));
        var personId = _portal.Get<TradingStateStore>().Get(TradingScopes.Global).ChangedBy;
        var (_, key) = await _portal.Get<Portal.Features.Auth.ApiKeyService>().CreateAsync("names-test-key", [Portal.Features.Auth.Scopes.Audit]);

        var names = await _portal.Get<Portal.Features.Audit.IActorNames>().NamesAsync(
            [personId, $"apikey:{key.Id}", "system:auto-halt", "apikey:not-a-uuid", personId], CancellationToken.None);

        Assert.Equal(new Dictionary<string, string> { [personId] = person.Email, [$"apikey:{key.Id}"] = "names-test-key" }, names);
    }

    [Fact]
    public async Task A_user_without_a_halt_role_is_refused_the_form_and_its_post_and_nothing_is_halted()
    {
        var compliance = await _portal.ClientSignedInAsAsync(Roles.Compliance);

        var get = await compliance.GetAsync(FormPath);
        // A valid token of this user's own session, from a page they may open: only the role stands in the way.
        var token = await SignIn.AntiforgeryTokenAsync(compliance, IdentitySetup.ManagePath);
        var post = await compliance.PostAsync(FormPath, new FormUrlEncodedContent(new Dictionary<string, string>(Halt("halt"))
        {
            ["__RequestVerificationToken"] = token,
            ["_handler"] = "halt",
        }));

        foreach (var response in new[] { get, post })
        {
            Assert.Equal(HttpStatusCode.Found, response.StatusCode);
            Assert.Equal(IdentitySetup.AccessDeniedPath, response.Headers.Location!.AbsolutePath);
        }
        Assert.Equal(TradingMode.Active, GlobalMode);
    }

    [Fact]
    public async Task A_post_without_the_antiforgery_token_is_refused_and_nothing_is_halted()
    {
        var onCall = await _portal.ClientSignedInAsAsync(Roles.OnCall);

        var response = await PostFormAsync(onCall, Halt("halt"), withToken: false);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(TradingMode.Active, GlobalMode);
    }

    [Fact]
    public async Task OnCall_is_not_offered_flatten_and_a_crafted_flatten_post_is_refused_and_nothing_is_halted()
    {
        var onCall = await _portal.ClientSignedInAsAsync(Roles.OnCall);
        Assert.DoesNotContain("value=\"flatten\"", await onCall.GetStringAsync(FormPath));

        var response = await PostFormAsync(onCall, Halt("flatten"));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("Nothing was halted", await response.Content.ReadAsStringAsync());
        Assert.Equal(TradingMode.Active, GlobalMode);
    }

    [Fact]
    public async Task A_RiskOfficer_is_offered_flatten()
    {
        var officer = await _portal.ClientSignedInAsAsync(Roles.RiskOfficer);
        Assert.Contains("value=\"flatten\"", await officer.GetStringAsync(FormPath));
    }

    [Theory]
    [InlineData("halt", false, "halt-form-confirm-error")]
    [InlineData("everything", true, "halt-form-mode-error")]
    [InlineData("", true, "halt-form-mode-error")]
    public async Task A_post_without_confirmation_or_with_an_unknown_mode_gets_a_clear_error_and_nothing_is_halted(string mode, bool confirmed, string errorId)
    {
        var onCall = await _portal.ClientSignedInAsAsync(Roles.OnCall);

        var response = await PostFormAsync(onCall, Halt(mode, confirmed));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains($"id=\"{errorId}\"", html);
        Assert.Contains("id=\"halt-form\"", html);
        Assert.Equal(TradingMode.Active, GlobalMode);
    }
}
