using System.Net;
using System.Text.RegularExpressions;
using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;
using Portal.Features.Auth;
using Portal.Features.Dashboard;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Dashboard;

/// <summary>The dashboard over a real portal: its numbers as money with the sign, its refusals with a date, time and zone.</summary>
public sealed class DashboardPageTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;

    // Composed, not inherited: MudBlazor's services dispose only asynchronously, and xunit 2 disposes test classes synchronously.
    private readonly BunitContext _bunit = new();

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync();
        _bunit.Services.AddMudServices();
        _bunit.JSInterop.Mode = JSRuntimeMode.Loose;
        _bunit.Services.AddFallbackServiceProvider(_portal.Services);
        _bunit.AddAuthorization().SetAuthorized("staff@test.local");
    }

    public async Task DisposeAsync()
    {
        await _bunit.DisposeAsync();
        await _portal.DisposeAsync();
    }

    [Fact]
    public async Task A_refusal_is_listed_with_its_date_time_and_zone_and_money_shows_the_dollar_sign()
    {
        var orders = await _portal.ClientWithScopesAsync(Scopes.Orders);
        // Beyond the seed's max order quantity of 1,000: refused.
        var refused = await orders.PostOrderAsync(OrderRequests.Market("dash-refused-1", 5_000m));
        Assert.NotEqual(HttpStatusCode.Created, refused.StatusCode);

        var cut = _bunit.Render<DashboardPage>();

        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("tr.refusal")), TimeSpan.FromSeconds(10));
        Assert.Matches(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$", cut.Find("tr.refusal td").TextContent.Trim());
        Assert.Matches(@"\$[\d,]+\.\d{2}", Regex.Replace(cut.Markup, @"\s+", " "));
    }
}
