using Bunit;
using Bunit.TestDoubles;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Portal.Domain.Trading;
using Portal.Features.Halt;
using Portal.Features.Halt.Pages;
using Portal.Features.Identity;

namespace Portal.Tests.Features.Ui;

public sealed class HaltControlTests : ComponentTestContext
{
    private readonly RecordingHaltCommands _commands = new();
    private readonly BunitAuthorizationContext _authorization;
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 26, 3, 0, 0, TimeSpan.Zero));

    private sealed class RecordingHaltCommands : IHaltCommands
    {
        public List<(string Reason, HaltMode Mode, string? Strategy, string Actor)> Halts { get; } = [];

        public Task<HaltResult> HaltAsync(string reason, HaltMode mode, string? strategyId, string actor)
        {
            Halts.Add((reason, mode, strategyId, actor));
            return Task.FromResult(new HaltResult("halted", "global", DateTimeOffset.UnixEpoch, 0.4, 12, 3, 0, []));
        }

        public Task<HaltEffect> PreviewAsync(string? strategyId) =>
            Task.FromResult(strategyId is null ? new HaltEffect(3, 9, 47_912.35m) : new HaltEffect(1, 9, 47_912.35m));

        public Task<IReadOnlyList<string>> StrategiesAsync() => Task.FromResult<IReadOnlyList<string>>(["alpha", "demo-momentum"]);
        public Task<ResumeOutcome> RequestResumeAsync(string reason, string? strategyId, TradingMode target, string actor) => throw new NotSupportedException();
        public Task<ResumeOutcome> ApproveResumeAsync(Guid requestId, string approver) => throw new NotSupportedException();
        public Task<ResumeOutcome> RejectResumeAsync(Guid requestId, string actor) => throw new NotSupportedException();
        public Task<IReadOnlyList<ResumeRequestView>> PendingResumesAsync() => throw new NotSupportedException();
    }

    public HaltControlTests()
    {
        Services.AddSingleton<IHaltCommands>(_commands);
        Services.AddSingleton<TimeProvider>(_clock);
        _authorization = AddAuthorization();
        _authorization.SetAuthorized("oncall@test.local");
    }

    private static void Choose(IRenderedComponent<HaltControl> cut, string group, string label) =>
        cut.FindAll($"{group} .mud-radio").Single(e => e.TextContent.Contains(label, StringComparison.Ordinal)).QuerySelector("input")!.Click();

    [Fact]
    public void One_tap_only_arms_the_control_and_halts_nothing()
    {
        var cut = Render<HaltControl>();

        cut.Find("#halt-button").Click();

        Assert.Empty(_commands.Halts);
        Assert.Contains("press and hold CONFIRM for 1.5 s to halt everything + cancel 3 open orders", cut.Find("#halt-arm-hint").TextContent);
        Assert.NotNull(cut.Find("#halt-arm-progress"));
    }

    [Fact]
    public void The_button_names_scope_and_effect_and_a_second_tap_on_the_same_spot_does_not_halt()
    {
        var cut = Render<HaltControl>();
        cut.WaitForAssertion(() => Assert.Equal("HALT EVERYTHING + CANCEL 3 OPEN ORDERS", cut.Find("#halt-button").TextContent.Trim()));

        cut.Find("#halt-button").Click();
        // What now fills HALT's place is the way out; CONFIRM comes after it, in amber, not the error red.
        var first = cut.Find(".halt-control > button");
        Assert.Equal("halt-cancel-arm", first.Id);
        Assert.Equal("Don't halt", first.TextContent.Trim());
        first.Click();

        Assert.Empty(_commands.Halts);
        Assert.Empty(cut.FindAll("#halt-confirm"));
        Assert.Equal("HALT EVERYTHING + CANCEL 3 OPEN ORDERS", cut.Find("#halt-button").TextContent.Trim());
    }

    [Fact]
    public void Tapping_confirm_does_not_halt_and_holding_it_for_the_full_time_halts_once_with_the_chosen_mode()
    {
        _authorization.SetPolicies(Policies.MayFlatten);
        HaltResult? reported = null;
        var cut = Render<HaltControl>(p => p.Add(c => c.Halted, result => reported = result));
        Choose(cut, "#halt-mode", "Flatten");
        Assert.Equal("HALT EVERYTHING + FLATTEN 9 POSITIONS ($47.9k)", cut.Find("#halt-button").TextContent.Trim());
        cut.Find("#halt-button").Click();

        // A tap is a press let go at once; a press let go before the time is up is nothing either.
        cut.Find("#halt-confirm").PointerDown();
        cut.Find("#halt-confirm").PointerUp();
        cut.Find("#halt-confirm").PointerDown();
        _clock.Advance(HaltControl.HoldToConfirm - TimeSpan.FromMilliseconds(300));
        cut.Find("#halt-confirm").PointerLeave();
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Empty(_commands.Halts);

        cut.Find("#halt-confirm").PointerDown();
        Assert.Contains("holding", cut.Find("#halt-confirm").ClassName);
        _clock.Advance(HaltControl.HoldToConfirm);

        cut.WaitForAssertion(() => Assert.NotNull(reported));
        var halt = Assert.Single(_commands.Halts);
        Assert.Equal(HaltMode.Flatten, halt.Mode);
        Assert.Null(halt.Strategy);
        Assert.Equal("halt and flatten from the portal by oncall@test.local", halt.Reason);
        Assert.Equal(3, reported!.CancelledOrders);
        Assert.NotNull(cut.Find("#halt-button"));
    }

    /// <summary>Timers from <see cref="Timers"/>; the wall clock reads <see cref="Now"/>, which may lag the timers as a real one can.</summary>
    private sealed class LaggingClock(FakeTimeProvider timers) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = timers.GetUtcNow();
        public override DateTimeOffset GetUtcNow() => Now;
        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => timers.CreateTimer(callback, state, dueTime, period);
    }

    [Fact]
    public void A_hold_whose_timer_runs_out_halts_even_if_the_wall_clock_reads_a_hair_short()
    {
        var clock = new LaggingClock(_clock);
        Services.AddSingleton<TimeProvider>(clock);
        var cut = Render<HaltControl>();
        cut.Find("#halt-button").Click();
        cut.Find("#halt-confirm").PointerDown();

        clock.Now += HaltControl.HoldToConfirm - TimeSpan.FromMilliseconds(0.4);
        _clock.Advance(HaltControl.HoldToConfirm);

        cut.WaitForAssertion(() => Assert.Single(_commands.Halts));
    }

    [Fact]
    public void One_strategy_is_halted_on_its_own_with_its_own_open_orders_in_the_label()
    {
        var cut = Render<HaltControl>();
        Choose(cut, "#halt-scope", "One strategy");

        cut.WaitForAssertion(() => Assert.Equal("HALT alpha + CANCEL 1 OPEN ORDER", cut.Find("#halt-button").TextContent.Trim()));
        cut.Find("#halt-button").Click();
        cut.Find("#halt-confirm").KeyDown(new Microsoft.AspNetCore.Components.Web.KeyboardEventArgs { Key = "Enter" });
        _clock.Advance(HaltControl.HoldToConfirm);

        cut.WaitForAssertion(() => Assert.Single(_commands.Halts));
        Assert.Equal(("alpha", HaltMode.Cancel), (_commands.Halts[0].Strategy, _commands.Halts[0].Mode));
        Assert.Equal("halt and cancel orders of alpha from the portal by oncall@test.local", _commands.Halts[0].Reason);
    }

    [Fact]
    public void Flatten_is_offered_only_to_whoever_may_flatten_and_never_for_one_strategy()
    {
        var cut = Render<HaltControl>();
        Assert.DoesNotContain(cut.FindAll("#halt-mode .mud-radio"), e => e.TextContent.Contains("Flatten", StringComparison.Ordinal));
        Assert.Contains(cut.FindAll("#halt-mode .mud-radio"), e => e.TextContent.Contains("Cancel orders", StringComparison.Ordinal));

        _authorization.SetPolicies(Policies.MayFlatten);
        var officer = Render<HaltControl>();
        Assert.Contains(officer.FindAll("#halt-mode .mud-radio"), e => e.TextContent.Contains("Flatten", StringComparison.Ordinal));
        Choose(officer, "#halt-scope", "One strategy");
        officer.WaitForAssertion(() => Assert.DoesNotContain(officer.FindAll("#halt-mode .mud-radio"), e => e.TextContent.Contains("Flatten", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_arming_expires_and_a_later_press_starts_over()
    {
        var cut = Render<HaltControl>();
        cut.Find("#halt-button").Click();

        _clock.Advance(HaltControl.ConfirmWindow + TimeSpan.FromMilliseconds(200));

        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("#halt-confirm")));
        cut.Find("#halt-button").Click();
        Assert.Empty(_commands.Halts);
    }

    [Fact]
    public void Cancel_disarms_without_halting()
    {
        var cut = Render<HaltControl>();
        cut.Find("#halt-button").Click();

        cut.Find("#halt-cancel-arm").Click();

        Assert.Empty(cut.FindAll("#halt-confirm"));
        Assert.Empty(_commands.Halts);
    }
}
