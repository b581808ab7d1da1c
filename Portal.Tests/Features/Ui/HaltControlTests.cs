using Bunit;
using Bunit.TestDoubles;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
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
        public List<(string Reason, HaltMode Mode, string Actor)> Halts { get; } = [];

        public Task<HaltResult> HaltAsync(string reason, HaltMode mode, string actor)
        {
            Halts.Add((reason, mode, actor));
            return Task.FromResult(new HaltResult("halted", "global", DateTimeOffset.UnixEpoch, 0.4, 12, 3, 0, []));
        }

        public Task<ResumeOutcome> RequestResumeAsync(string reason, string actor) => throw new NotSupportedException();
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

    [Fact]
    public void One_tap_only_arms_the_control_and_halts_nothing()
    {
        var cut = Render<HaltControl>();

        cut.Find("#halt-button").Click();

        Assert.Empty(_commands.Halts);
        Assert.Contains("CONFIRM HALT AND CANCEL ORDERS", cut.Find("#halt-confirm").TextContent);
        Assert.NotNull(cut.Find("#halt-arm-progress"));
    }

    [Fact]
    public void The_button_names_its_effect_and_a_second_tap_on_the_same_spot_does_not_halt()
    {
        var cut = Render<HaltControl>();
        Assert.Equal("HALT + CANCEL ORDERS", cut.Find("#halt-button").TextContent.Trim());

        cut.Find("#halt-button").Click();
        // What now fills HALT's place is the way out; CONFIRM comes after it, in the warning colour, not the error red.
        var first = cut.Find(".halt-control > button");
        Assert.Equal("halt-cancel-arm", first.Id);
        Assert.Equal("Don't halt", first.TextContent.Trim());
        Assert.Contains("mud-button-filled-warning", cut.Find("#halt-confirm").ClassName);
        Assert.Contains("Confirm within 5 s to halt and cancel orders.", cut.Find("#halt-arm-hint").TextContent);
        first.Click();

        Assert.Empty(_commands.Halts);
        Assert.Empty(cut.FindAll("#halt-confirm"));
        Assert.Equal("HALT + CANCEL ORDERS", cut.Find("#halt-button").TextContent.Trim());
    }

    [Fact]
    public void Confirming_within_the_window_halts_once_with_the_chosen_mode()
    {
        _authorization.SetPolicies(Policies.MayFlatten);
        HaltResult? reported = null;
        var cut = Render<HaltControl>(p => p.Add(c => c.Halted, result => reported = result));
        cut.FindAll("#halt-mode .mud-toggle-item").Single(e => e.TextContent.Contains("Flatten", StringComparison.Ordinal)).Click();

        cut.Find("#halt-button").Click();
        _clock.Advance(TimeSpan.FromSeconds(2));
        cut.Find("#halt-confirm").Click();

        cut.WaitForAssertion(() => Assert.NotNull(reported));
        var halt = Assert.Single(_commands.Halts);
        Assert.Equal(HaltMode.Flatten, halt.Mode);
        Assert.Equal("halt and flatten from the portal by oncall@test.local", halt.Reason);
        Assert.Equal(3, reported!.CancelledOrders);
        Assert.NotNull(cut.Find("#halt-button"));
    }

    [Fact]
    public void Flatten_is_offered_only_to_whoever_may_flatten()
    {
        var cut = Render<HaltControl>();

        Assert.DoesNotContain(cut.FindAll("#halt-mode .mud-toggle-item"), e => e.TextContent.Contains("Flatten", StringComparison.Ordinal));
        Assert.Contains(cut.FindAll("#halt-mode .mud-toggle-item"), e => e.TextContent.Contains("Cancel orders", StringComparison.Ordinal));
    }

    [Fact]
    public void The_arming_expires_and_a_later_tap_starts_over()
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
