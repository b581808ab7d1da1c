using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;
using Portal.Domain.Risk;
using Portal.Features.Limits;
using Portal.Features.Limits.Pages;

namespace Portal.Tests.Features.Limits;

/// <summary>The limit form's validation and the pending-approval display, rendered with bUnit.</summary>
public sealed class LimitComponentsTests : IAsyncLifetime
{
    private static readonly RiskLimits Ceilings = RiskLimits.SeedDefaults with { MaxOrderValueUsd = 10_000m };

    // Composed, not inherited: MudBlazor's services dispose only asynchronously, and xunit 2 disposes test classes synchronously.
    private readonly BunitContext _bunit = new();

    public LimitComponentsTests()
    {
        _bunit.Services.AddMudServices();
        _bunit.JSInterop.Mode = JSRuntimeMode.Loose;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bunit.DisposeAsync();

    private IRenderedComponent<T> Render<T>(Action<ComponentParameterCollectionBuilder<T>> parameters) where T : Microsoft.AspNetCore.Components.IComponent =>
        _bunit.Render(parameters);

    [Fact]
    public void A_value_above_its_ceiling_shows_a_field_error_and_proposes_nothing()
    {
        var proposals = new List<LimitProposal>();
        var form = Render<LimitEditForm>(p => p.Add(f => f.Current, RiskLimits.SeedDefaults).Add(f => f.Ceilings, Ceilings)
            .Add(f => f.OnPropose, proposals.Add));

        form.Find("input[id='limits.maxOrderValueUsd']").Change("20000");
        form.Find("#limit-reason").Change("raise it");
        form.Find("#propose-limits").Click();

        form.WaitForAssertion(() => Assert.Contains("must not exceed its ceiling $10,000.00", form.Markup));
        Assert.Empty(proposals);
    }

    [Fact]
    public void A_reason_is_required()
    {
        var proposals = new List<LimitProposal>();
        var form = Render<LimitEditForm>(p => p.Add(f => f.Current, RiskLimits.SeedDefaults).Add(f => f.Ceilings, Ceilings)
            .Add(f => f.OnPropose, proposals.Add));

        form.Find("#propose-limits").Click();

        form.WaitForAssertion(() => Assert.Contains("A reason is required.", form.Markup));
        Assert.Empty(proposals);
    }

    [Fact]
    public void A_valid_change_is_proposed_with_every_limit_and_its_reason()
    {
        var proposals = new List<LimitProposal>();
        var form = Render<LimitEditForm>(p => p.Add(f => f.Current, RiskLimits.SeedDefaults).Add(f => f.Ceilings, Ceilings)
            .Add(f => f.OnPropose, proposals.Add));

        form.Find("input[id='limits.maxOrderValueUsd']").Change("250");
        form.Find("#limit-reason").Change("tighter");
        form.Find("#propose-limits").Click();

        form.WaitForAssertion(() => Assert.Single(proposals));
        Assert.Equal(RiskLimits.SeedDefaults with { MaxOrderValueUsd = 250m }, proposals[0].Limits);
        Assert.Equal("tighter", proposals[0].Reason);
    }

    [Fact]
    public void The_proposer_sees_their_change_but_cannot_approve_or_reject_it()
    {
        var pending = Render<PendingLimitChanges>(p => p.Add(c => c.Pending, [Proposal("first@test.local")])
            .Add(c => c.Active, RiskLimits.SeedDefaults).Add(c => c.ActiveVersion, 6).Add(c => c.Decider, "first@test.local"));

        Assert.True(pending.Find(".approve-limit-change").HasAttribute("disabled"));
        Assert.True(pending.Find(".reject-limit-change").HasAttribute("disabled"));
        Assert.Contains("another RiskOfficer must approve it", pending.Find(".own-proposal").TextContent);
        Assert.Contains("$5,000.00 → $250.00", pending.Find(".limit-change").TextContent);
    }

    [Fact]
    public void Another_officer_can_approve()
    {
        var approved = new List<LimitVersionView>();
        var version = Proposal("first@test.local");
        var pending = Render<PendingLimitChanges>(p => p.Add(c => c.Pending, [version])
            .Add(c => c.Active, RiskLimits.SeedDefaults).Add(c => c.ActiveVersion, 6).Add(c => c.Decider, "second@test.local").Add(c => c.OnApprove, approved.Add));

        Assert.False(pending.Find(".approve-limit-change").HasAttribute("disabled"));
        Assert.Empty(pending.FindAll(".own-proposal"));
        pending.Find(".approve-limit-change").Click();

        Assert.Equal([version], approved);
    }

    [Fact]
    public void A_pending_change_shows_money_with_dollars_percentages_as_percent_and_when_in_UTC()
    {
        var version = Proposal("first@test.local") with
        {
            Limits = RiskLimits.SeedDefaults with { MaxDailyLossUsd = 1_500.5m, MaxPositionPctPortfolio = 0.125m },
            ProposedAt = new DateTimeOffset(2026, 12, 6, 9, 30, 0, TimeSpan.FromHours(-5)),
        };

        var cut = Render<PendingLimitChanges>(p => p.Add(c => c.Pending, [version]).Add(c => c.Active, RiskLimits.SeedDefaults).Add(c => c.ActiveVersion, 6).Add(c => c.Decider, null));

        cut.WaitForAssertion(() => Assert.Contains("proposed by first@test.local · 2026-12-06 14:30:00 UTC", cut.Markup));
        var changes = cut.FindAll(".limit-change").Select(c => c.TextContent.Trim()).ToList();
        Assert.Contains(changes, c => c.Contains("$2,000.00 → $1,500.50", StringComparison.Ordinal));
        Assert.Contains(changes, c => c.Contains("10 % → 12.5 %", StringComparison.Ordinal));
    }

    [Fact]
    public void A_reader_sees_pending_changes_without_buttons()
    {
        var pending = Render<PendingLimitChanges>(p => p.Add(c => c.Pending, [Proposal("first@test.local")])
            .Add(c => c.Active, RiskLimits.SeedDefaults).Add(c => c.ActiveVersion, 6).Add(c => c.Decider, null));

        Assert.Contains("proposed by first@test.local", pending.Markup);
        Assert.Empty(pending.FindAll("button"));
    }

    [Fact]
    public void A_change_proposed_from_limits_replaced_since_cannot_be_approved_and_says_why()
    {
        var cut = Render<PendingLimitChanges>(p => p.Add(c => c.Pending, [Proposal("first@test.local") with { BasedOn = 5 }])
            .Add(c => c.Active, RiskLimits.SeedDefaults).Add(c => c.ActiveVersion, 6).Add(c => c.Decider, "second@test.local"));

        Assert.True(cut.Find(".approve-limit-change").HasAttribute("disabled"));
        Assert.False(cut.Find(".reject-limit-change").HasAttribute("disabled"));
        Assert.Contains("Proposed from version 5; version 6 is in force now", cut.Find(".stale-proposal").TextContent);
    }

    private static LimitVersionView Proposal(string proposer) => new(
        7, RiskLimits.SeedDefaults with { MaxOrderValueUsd = 250m }, LimitStates.Pending, "tighter", proposer, DateTimeOffset.UnixEpoch, null, null, BasedOn: 6);
}
