using System.Text.RegularExpressions;
using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Portal.Features.Audit;
using Portal.Features.Halt;
using Portal.Features.Halt.Pages;
using Portal.Tests.Features.Ui;

namespace Portal.Tests.Features.Halt;

/// <summary>The halt page's resume section: pending requests say who asked by email and when, in UTC.</summary>
public sealed class ResumeSectionTests : ComponentTestContext
{
    private const string RequesterId = "9d3b7c51-1e2f-4a6b-8c9d-0e1f2a3b4c5d";
    private readonly FakeActorNames _names = new();
    private readonly PendingResumeCommands _commands = new();

    private sealed class HaltedStatus : ITradingStatusSource
    {
        public TradingStatus Current { get; } = new(TradingStatusKind.Halted, "manual", RequesterId, DateTimeOffset.UnixEpoch.AddDays(1), null);
    }

    public ResumeSectionTests()
    {
        Services.AddSingleton<IActorNames>(_names);
        Services.AddSingleton<IHaltCommands>(_commands);
        Services.AddSingleton<ITradingStatusSource>(new HaltedStatus());
        AddAuthorization().SetAuthorized("second@test.local");
    }

    [Fact]
    public void A_pending_request_names_its_requester_by_email_and_its_time_in_UTC()
    {
        _names.Names[RequesterId] = "first.officer@test.local";
        _commands.Pending.Add(PendingResumeCommands.Request(RequesterId, new DateTimeOffset(2026, 12, 6, 4, 5, 6, TimeSpan.FromHours(2))));

        var cut = Render<ResumeSection>();

        cut.WaitForAssertion(() => Assert.Equal("first.officer@test.local", cut.Find(".resume-requested-by").TextContent));
        var text = Regex.Replace(cut.Find(".resume-pending").TextContent, @"\s+", " ");
        Assert.Contains("first.officer@test.local asks to resume everything to active at 2026-12-06 02:05:06 UTC: all clear", text);
        Assert.DoesNotContain(RequesterId, text);
    }

    [Fact]
    public void A_requester_without_a_name_is_shown_as_recorded()
    {
        _commands.Pending.Add(PendingResumeCommands.Request("system:auto-resume", DateTimeOffset.UnixEpoch));

        var cut = Render<ResumeSection>();

        cut.WaitForAssertion(() => Assert.Equal("system:auto-resume", cut.Find(".resume-requested-by").TextContent));
    }
}
