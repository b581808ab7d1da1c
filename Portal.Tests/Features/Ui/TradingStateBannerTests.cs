using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Portal.Components.Shared;
using Portal.Features.Halt;
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

    public TradingStateBannerTests() => Services.AddSingleton<ITradingStatusSource>(_status);

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
    }

    [Fact]
    public void With_every_strategy_active_the_banner_lists_none()
    {
        var cut = Render<TradingStateBanner>();
        var chip = Render<TradingStateChip>();

        Assert.Empty(cut.FindAll(".banner-strategy"));
        Assert.Equal("Active", chip.Find(".trading-state-chip").TextContent.Trim());
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
}
