using Bunit;
using Bunit.TestDoubles;
using Microsoft.Extensions.DependencyInjection;
using Portal.Components.Shared;
using Portal.Features.Audit;
using MudBlazor;
using Portal.Features.Halt;
using Portal.Features.Identity;
using Portal.Features.Live;

namespace Portal.Tests.Features.Ui;

public sealed class TradingStateBannerTests : ComponentTestContext
{
    private static readonly DateTimeOffset Since = new(2026, 11, 26, 3, 4, 5, TimeSpan.Zero);
    private readonly SettableStatus _status = new();

    private sealed class SettableStatus : ITradingStatusSource
    {
        public TradingStatus Current { get; set; } = new(TradingStatusKind.Active, "initial state", "system", DateTimeOffset.UnixEpoch, null);
    }

    private readonly FakeActorNames _names = new();
    private readonly PendingResumeCommands _commands = new();

    private readonly BunitAuthorizationContext _auth;

    public TradingStateBannerTests()
    {
        Services.AddSingleton<ITradingStatusSource>(_status);
        Services.AddSingleton<IActorNames>(_names);
        Services.AddSingleton<IHaltCommands>(_commands);
        _auth = AddAuthorization();
        _auth.SetAuthorized("oncall@test.local").SetPolicies(Policies.CanHalt, Policies.AnyStaff);
    }

    [Theory]
    [InlineData(TradingStatusKind.Active, "Trading: Active", "mud-alert-filled-success")]
    [InlineData(TradingStatusKind.ReduceOnly, "Trading: Reduce only", "mud-alert-filled-warning")]
    [InlineData(TradingStatusKind.Halted, "Trading: Halted", "mud-alert-filled-error")]
    public void Shows_the_state_with_its_reason_who_and_since_when(TradingStatusKind kind, string title, string colourClass)
    {
        _status.Current = new(kind, "daily loss beyond the limit", "alice", Since, null);

        var cut = Render<TradingStateBanner>();

        var banner = cut.Find(".trading-state-banner");
        Assert.Equal(kind.ToString(), banner.GetAttribute("data-state"));
        Assert.Contains(colourClass, banner.ClassName);
        Assert.Equal(title, cut.Find(".banner-title").TextContent.Trim());
        Assert.Equal("daily loss beyond the limit", cut.Find(".banner-reason").TextContent.Trim());
        Assert.Equal("by alice since 2026-11-26 03:04:05 UTC", cut.Find(".banner-who").TextContent.Trim());
        Assert.Empty(cut.FindAll(".banner-safe-mode"));
    }

    [Fact]
    public void Safe_mode_shows_every_cause_with_its_dependency_and_what_a_resume_needs()
    {
        _status.Current = new TradingStatus(TradingStatusKind.SafeMode, "New orders are refused: redis-unreachable", "system", Since, SafeModeMonitor.RedisUnreachable)
        {
            SafeModeCauses =
            [
                new SafeModeCause(SafeModeMonitor.RedisUnreachable, SafeModeMonitor.DependencyOf(SafeModeMonitor.RedisUnreachable), Since),
                new SafeModeCause(SafeModeMonitor.MarketDataRelayDown, SafeModeMonitor.DependencyOf(SafeModeMonitor.MarketDataRelayDown), Since.AddMinutes(1)),
            ],
            StrategiesNotActive = [new TradingStateEntry("strategy:s1", Portal.Domain.Trading.TradingMode.Halted, "auto", "system:auto-halt", Since, 3)],
        };

        var cut = Render<TradingStateBanner>();

        Assert.Equal("SafeMode", cut.Find(".trading-state-banner").GetAttribute("data-state"));
        Assert.Equal("Trading: Safe mode", cut.Find(".banner-title").TextContent.Trim());
        Assert.Equal(
            ["Safe mode cause: redis-unreachable (Redis) since 2026-11-26 03:04:05 UTC", "Safe mode cause: market-data-relay-down (Market data) since 2026-11-26 03:05:05 UTC"],
            cut.FindAll(".banner-safe-mode").Select(e => e.TextContent.Trim()));
        Assert.Contains("a second RiskOfficer approves it", cut.Find(".banner-resume-needs").TextContent);
        Assert.Contains("refused until no safe-mode cause holds", cut.Find(".banner-resume-needs").TextContent);
        Assert.Equal("/audit?subject=strategy%3As1", cut.Find(".banner-strategy a").GetAttribute("href"));
    }

    [Fact]
    public void Every_safe_mode_cause_belongs_to_a_listed_dependency() =>
        Assert.All(SafeModeMonitor.Causes, cause => Assert.Contains(SafeModeMonitor.DependencyOf(cause), SafeModeMonitor.Dependencies));

    [Fact]
    public void A_strategy_halted_while_the_whole_is_active_is_on_the_banner_and_the_chip()
    {
        _status.Current = new TradingStatus(TradingStatusKind.Active, "initial state", "system", DateTimeOffset.UnixEpoch, null)
        {
            StrategiesNotActive =
            [
                new TradingStateEntry("strategy:demo-momentum", Portal.Domain.Trading.TradingMode.Halted, "auto: 3 breaches in 60 s", "system:auto-halt", Since, 7),
            ],
        };

        var cut = Render<TradingStateBanner>();
        var chip = Render<TradingStateChip>();

        Assert.Equal("1 strategy halted (their orders are refused whatever the global state):", cut.Find(".banner-strategies").TextContent.Trim());
        var strategy = cut.Find(".banner-strategy");
        Assert.Equal("demo-momentum", strategy.GetAttribute("data-strategy"));
        Assert.Equal("Halted", strategy.GetAttribute("data-state"));
        Assert.Contains("auto: 3 breaches in 60 s", strategy.TextContent);
        Assert.Contains("by system:auto-halt since 2026-11-26 03:04:05 UTC", strategy.TextContent);
        Assert.Equal("Active · 1 strategy halted", chip.Find(".trading-state-chip").TextContent.Trim());
        // Not all green while some orders are refused.
        Assert.Contains("mud-alert-filled-warning", cut.Find(".trading-state-banner").ClassName);
        Assert.Contains("mud-chip-color-warning", chip.Find(".trading-state-chip").ClassName);
    }

    [Fact]
    public void With_every_strategy_active_the_banner_lists_none()
    {
        var cut = Render<TradingStateBanner>();
        var chip = Render<TradingStateChip>();

        Assert.Empty(cut.FindAll(".banner-strategy"));
        Assert.Equal("Active", chip.Find(".trading-state-chip").TextContent.Trim());
        Assert.Contains("mud-chip-color-success", chip.Find(".trading-state-chip").ClassName);
    }

    [Fact]
    public void Follows_trading_state_events_live()
    {
        var cut = Render<TradingStateBanner>();
        Assert.Equal("Active", cut.Find(".trading-state-banner").GetAttribute("data-state"));

        _status.Current = new(TradingStatusKind.Halted, "manual", "bob", Since, null);
        Bus.Publish(OpsEventTypes.TradingState, new TradingStateEntry("global", Portal.Domain.Trading.TradingMode.Halted, "manual", "bob", Since, 2));

        cut.WaitForAssertion(() => Assert.Equal("Halted", cut.Find(".trading-state-banner").GetAttribute("data-state")));
    }

    [Fact]
    public void Who_changed_the_state_is_shown_by_email_or_key_name_not_by_the_recorded_id()
    {
        const string userId = "5f0c2b8e-8a51-4f61-9d1e-2f7a4c1b9e33";
        const string keyId = "apikey:0b6f5a3c-7d2e-4e8f-9a1b-3c4d5e6f7a8b";
        _names.Names[userId] = "risk.officer@test.local";
        _names.Names[keyId] = "desk-bot";
        _status.Current = new TradingStatus(TradingStatusKind.Halted, "manual", userId, Since, null)
        {
            StrategiesNotActive = [new TradingStateEntry("strategy:s1", Portal.Domain.Trading.TradingMode.ReduceOnly, "drift", keyId, Since, 4)],
        };

        var cut = Render<TradingStateBanner>();

        cut.WaitForAssertion(() => Assert.Equal("by risk.officer@test.local since 2026-11-26 03:04:05 UTC", cut.Find(".banner-who").TextContent.Trim()));
        Assert.Contains("by desk-bot since 2026-11-26 03:04:05 UTC", cut.Find(".banner-strategy").TextContent);
        Assert.DoesNotContain(userId, cut.Markup);
    }

    [Fact]
    public void A_new_state_by_someone_else_is_shown_with_their_email_live()
    {
        _names.Names["user-2"] = "second@test.local";
        var cut = Render<TradingStateBanner>();

        _status.Current = new(TradingStatusKind.Halted, "manual", "user-2", Since, null);
        Bus.Publish(OpsEventTypes.TradingState, new TradingStateEntry("global", Portal.Domain.Trading.TradingMode.Halted, "manual", "user-2", Since, 2));

        cut.WaitForAssertion(() => Assert.Equal("by second@test.local since 2026-11-26 03:04:05 UTC", cut.Find(".banner-who").TextContent.Trim()));
    }

    [Fact]
    public void The_number_of_pending_resume_requests_is_shown_and_follows_requests_live()
    {
        _status.Current = new(TradingStatusKind.Halted, "manual", "alice", Since, null);
        _commands.Pending.Add(PendingResumeCommands.Request("alice", Since));
        _commands.Pending.Add(PendingResumeCommands.Request("bob", Since, "strategy:s1"));

        var cut = Render<TradingStateBanner>();

        cut.WaitForAssertion(() => Assert.Equal("2 resume requests wait for a second RiskOfficer on the Halt page.",
            System.Text.RegularExpressions.Regex.Replace(cut.Find(".banner-pending-resumes").TextContent, @"\s+", " ").Trim()));
        Assert.Equal("/halt#resume-section", cut.Find(".banner-pending-resumes a").GetAttribute("href"));

        _commands.Pending.RemoveAt(1);
        Bus.Publish(OpsEventTypes.Alert, new { title = "resume rejected" });
        cut.WaitForAssertion(() => Assert.StartsWith("1 resume request waits", cut.Find(".banner-pending-resumes").TextContent.Trim()));

        _commands.Pending.Clear();
        Bus.Publish(OpsEventTypes.Alert, new { title = "resume approved" });
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll(".banner-pending-resumes")));
    }

    [Fact]
    public void The_halt_page_is_a_link_only_for_a_role_that_may_open_it()
    {
        _status.Current = new(TradingStatusKind.Halted, "manual", "alice", Since, null);
        _commands.Pending.Add(PendingResumeCommands.Request("alice", Since));
        var onCall = Render<TradingStateBanner>();
        onCall.WaitForAssertion(() => Assert.Equal(2, onCall.FindAll("a[href='/halt#resume-section']").Count));

        _auth.SetAuthorized("compliance@test.local").SetPolicies(Policies.AnyStaff);
        var compliance = Render<TradingStateBanner>();

        compliance.WaitForAssertion(() => Assert.Equal("1 resume request waits for a second RiskOfficer on the Halt page.",
            System.Text.RegularExpressions.Regex.Replace(compliance.Find(".banner-pending-resumes").TextContent, @"\s+", " ").Trim()));
        Assert.Contains("requests it on the Halt page", compliance.Find(".banner-resume-needs").TextContent);
        Assert.Empty(compliance.FindAll("a[href^='/halt']"));
    }

    [Fact]
    public void The_chip_is_a_button_that_opens_the_whole_state_in_a_panel_and_closes_it()
    {
        _status.Current = new TradingStatus(TradingStatusKind.Active, "initial state", "system", DateTimeOffset.UnixEpoch, null)
        {
            StrategiesNotActive = [new TradingStateEntry("strategy:demo-momentum", Portal.Domain.Trading.TradingMode.Halted, "auto", "system:auto-halt", Since, 7)],
        };
        Render<MudPopoverProvider>();
        var dialogs = Render<MudDialogProvider>();
        var cut = Render<TradingStateChip>();
        var toggle = cut.Find("button#trading-state-toggle");
        Assert.Equal("false", toggle.GetAttribute("aria-expanded"));
        Assert.Equal("Trading: Active · 1 strategy halted. Show the trading state", toggle.GetAttribute("aria-label"));
        Assert.Empty(dialogs.FindAll(".trading-state-banner"));

        toggle.Click();

        dialogs.WaitForAssertion(() => Assert.Equal("demo-momentum", dialogs.Find(".trading-state-panel .banner-strategy").GetAttribute("data-strategy")));
        Assert.Equal("true", cut.Find("#trading-state-toggle").GetAttribute("aria-expanded"));
        Assert.Empty(dialogs.FindAll(".trading-state-panel h1"));

        dialogs.Find("#close-trading-state").Click();

        dialogs.WaitForAssertion(() => Assert.Empty(dialogs.FindAll(".trading-state-panel")));
        Assert.Equal("false", cut.Find("#trading-state-toggle").GetAttribute("aria-expanded"));
    }
}
