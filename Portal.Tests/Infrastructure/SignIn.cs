using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Portal.Features.Identity;

namespace Portal.Tests.Infrastructure;

/// <summary>A user made for a test; <see cref="Password"/> is what to type on the sign-in page.</summary>
public sealed record TestUser(string Email, string Password, IReadOnlyList<string> Roles);

/// <summary>
/// People in tests: create a user with roles, and sign in through the real sign-in form (GET the
/// page, POST it with its antiforgery token and form name) with a client that keeps cookies.
/// <code>
/// var onCall = await portal.ClientSignedInAsAsync(Roles.OnCall);
/// var response = await onCall.PostAsync("/api/halt", ...);
/// </code>
/// Works on any <see cref="WebApplicationFactory{Program}"/> (PortalFactory and its WithWebHostBuilder copies).
/// Clients do not follow redirects, so tests see the 302s.
/// </summary>
public static partial class SignIn
{
    /// <summary>A new user holding <paramref name="roles"/> (none: a signed-in user without any role) and a random password.</summary>
    public static async Task<TestUser> CreateUserAsync(this WebApplicationFactory<Program> factory, params string[] roles)
    {
        var email = $"{(roles.Length == 0 ? "norole" : string.Join("-", roles).ToLowerInvariant())}-{Guid.NewGuid().ToString("N")[..12]}@test.local";
        var password = PasswordGenerator.Generate();
        await using var scope = factory.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<UserAccounts>().CreateAsync(email, roles, password, "test");
        return new TestUser(email, password, roles);
    }

    /// <summary>
    /// A client that keeps cookies and does not follow redirects, not signed in. Like a browser on a Portal page it sends
    /// Portal's own Origin, which cookie-authenticated API writes require (CookieApiWriteGuard).
    /// </summary>
    public static HttpClient CreateBrowserClient(this WebApplicationFactory<Program> factory)
    {
        var client = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        client.DefaultRequestHeaders.TryAddWithoutValidation("Origin", client.BaseAddress!.GetLeftPart(UriPartial.Authority));
        return client;
    }

    /// <summary>A cookie-keeping client signed in as <paramref name="user"/>; throws if the sign-in form refuses.</summary>
    public static async Task<HttpClient> SignInAsync(this WebApplicationFactory<Program> factory, TestUser user)
    {
        var client = factory.CreateBrowserClient();
        var response = await client.PostLoginFormAsync(user.Email, user.Password);
        if (response.StatusCode != HttpStatusCode.Found)
            throw new InvalidOperationException($"Sign-in of {user.Email} failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return client;
    }

    /// <summary>A new user with <paramref name="roles"/>, signed in.</summary>
    public static async Task<HttpClient> ClientSignedInAsAsync(this WebApplicationFactory<Program> factory, params string[] roles) =>
        await factory.SignInAsync(await factory.CreateUserAsync(roles));

    /// <summary>GETs the sign-in page and POSTs its form with these credentials; returns the POST's response.</summary>
    public static async Task<HttpResponseMessage> PostLoginFormAsync(this HttpClient client, string email, string password, string? returnUrl = null, bool rememberDevice = false)
    {
        var url = IdentitySetup.LoginPath + (returnUrl is null ? "" : "?returnUrl=" + Uri.EscapeDataString(returnUrl));
        var fields = await FormFieldsAsync(client, url, "login");
        fields["Input.Email"] = email;
        fields["Input.Password"] = password;
        if (rememberDevice) fields["Input.RememberDevice"] = "true";
        return await client.PostAsync(url, new FormUrlEncodedContent(fields));
    }

    /// <summary>The hidden fields (antiforgery token, form name) of the form on <paramref name="url"/> whose _handler is <paramref name="formName"/>, or of the form with that id.</summary>
    public static async Task<Dictionary<string, string>> FormFieldsAsync(HttpClient client, string url, string formName)
    {
        var html = await client.GetStringAsync(url);
        return HiddenFields(html, formName) ?? throw new InvalidOperationException($"No form '{formName}' on {url}.");
    }

    /// <summary>The antiforgery token on a page (the first one), e.g. for the sign-out form.</summary>
    public static async Task<string> AntiforgeryTokenAsync(HttpClient client, string url)
    {
        var html = await client.GetStringAsync(url);
        return HiddenInput().Matches(html).Select(ParseInput).First(f => f.Name == "__RequestVerificationToken").Value;
    }

    /// <summary>Signs out through the sign-out form's POST (with the antiforgery token of <paramref name="pageWithForm"/>).</summary>
    public static async Task<HttpResponseMessage> SignOutAsync(this HttpClient client, string pageWithForm = IdentitySetup.ManagePath)
    {
        var token = await AntiforgeryTokenAsync(client, pageWithForm);
        return await client.PostAsync(IdentitySetup.LogoutPath, new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = token }));
    }

    private static Dictionary<string, string>? HiddenFields(string html, string formName)
    {
        foreach (var form in html.Split("<form", StringSplitOptions.None).Skip(1))
        {
            var body = form[..(form.IndexOf("</form>", StringComparison.Ordinal) is var end and >= 0 ? end : form.Length)];
            var fields = HiddenInput().Matches(body).Select(ParseInput).Where(f => f.Name.Length > 0).ToDictionary(f => f.Name, f => f.Value);
            if (fields.GetValueOrDefault("_handler") == formName || body.Contains($"id=\"{formName}\"", StringComparison.Ordinal)) return fields;
        }
        return null;
    }

    private static (string Name, string Value) ParseInput(Match input) =>
        (WebUtility.HtmlDecode(Attribute(input.Value, "name")), WebUtility.HtmlDecode(Attribute(input.Value, "value")));

    private static string Attribute(string tag, string name) =>
        Regex.Match(tag, "\\s" + Regex.Escape(name) + "=\"([^\"]*)\"") is { Success: true } m ? m.Groups[1].Value : "";

    [GeneratedRegex("""<input[^>]*type="hidden"[^>]*>""")]
    private static partial Regex HiddenInput();
}
