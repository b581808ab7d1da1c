using System.Net;
using System.Net.Http.Json;
using Portal.Domain.Trading;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Features.Limits;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Halt;

/// <summary>
/// Reasons travel into the audit trail, the portal's pages and the on-call webhook: a control character (a terminal
/// escape, a forged second log line) or a megabyte of text is refused at the API, and what reaches the webhook
/// cannot ping a channel or forge a link.
/// </summary>
public sealed class ReasonTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;

    public async Task InitializeAsync() => _portal = await PortalFactory.StartAsync();

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Theory]
    [InlineData("line one\nforged: approved by compliance")]
    [InlineData("\u001b[31mred\u001b[0m")]
    [InlineData("nul\u0000byte")]
    [InlineData("bidi \u202e override")]
    public async Task A_limit_change_reason_with_a_control_character_is_refused_naming_reason(string reason)
    {
        var key = await _portal.ClientWithScopesAsync(Scopes.Limits);
        var before = _portal.Get<LimitStore>().Current!.Version;

        var response = await key.PutAsJsonAsync("/api/limits", new { reason, limits = new { MaxOrderValueUsd = 250m } });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.JsonAsync()).GetProperty("errors").TryGetProperty("reason", out _));
        var history = await (await key.GetAsync("/api/limits/history")).JsonAsync();
        Assert.Equal(1, history.GetArrayLength());
        Assert.Equal(before, _portal.Get<LimitStore>().Current!.Version);
    }

    [Theory]
    [InlineData("stop", "{\"mode\":\"halt\",\"reason\":\"x\\u202ey\"}")]
    [InlineData("stop", "{\"mode\":\"halt\",\"reason\":\"LONG\"}")]
    [InlineData("resume", "{\"reason\":\"a\\u0007b\"}")]
    public async Task A_halt_or_resume_reason_that_is_too_long_or_has_a_control_character_is_refused_naming_reason(string action, string body)
    {
        var key = await _portal.ClientWithScopesAsync(Scopes.Halt);
        body = body.Replace("LONG", new string('x', 501), StringComparison.Ordinal);
        var officer = await _portal.ClientSignedInAsAsync(Portal.Features.Identity.Roles.RiskOfficer);
        var client = action == "stop" ? key : officer;

        var response = await client.PostAsync($"/api/emergency/{action}", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.JsonAsync()).GetProperty("errors").TryGetProperty("reason", out _));
        Assert.Equal(TradingMode.Active, _portal.Get<TradingStateStore>().Get(TradingScopes.Global).Mode);
    }

    [Fact]
    public async Task The_pages_path_checks_a_resume_reason_too_and_cleans_a_halt_reason_rather_than_refuse_the_halt()
    {
        var killSwitch = _portal.Get<KillSwitch>();
        await killSwitch.HaltAsync("reason test", HaltMode.Halt, strategyId: null, "test", automatic: false, CancellationToken.None);

        var refused = await killSwitch.RequestResumeAsync("ok\u001b[2Jwiped", strategyId: null, TradingMode.Active, "officer-a", CancellationToken.None);

        Assert.Equal(ResumeStatus.Refused, refused.Status);
        Assert.Contains("control", refused.Detail, StringComparison.Ordinal);
        Assert.Empty(await killSwitch.PendingResumesAsync(CancellationToken.None));
        Assert.Equal("line one forged: approved", Portal.Infrastructure.Http.ReasonText.Clean("line one\nforged: approved\u202e"));
        Assert.Equal(Portal.Infrastructure.Http.ReasonText.MaxLength, Portal.Infrastructure.Http.ReasonText.Clean(new string('x', 10_000)).Length);
    }

    [Fact]
    public void Webhook_text_escapes_the_markup_a_chat_tool_would_act_on()
    {
        var alert = new Alert("trading.halted", AlertSeverity.Critical, "Halted by x: <!channel> see <https://evil.example|the runbook> & more",
            DateTimeOffset.UnixEpoch, "test");

        var text = AlertPublisher.WebhookText(alert);

        Assert.DoesNotContain('<', text);
        Assert.DoesNotContain('>', text);
        Assert.Contains("&lt;!channel&gt;", text, StringComparison.Ordinal);
        Assert.Contains("&amp; more", text, StringComparison.Ordinal);
    }
}
