using Portal.Domain.Broker;
using Portal.Features.Broker;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Broker;

public sealed class PaperBrokerTests
{
    [Fact]
    public async Task Without_its_account_row_the_paper_broker_answers_no_portfolio_rather_than_an_empty_account()
    {
        // On a fresh database the risk book's first sync can run before the paper account's row is created. Read as zero
        // cash, that empty account became the day's start equity: a gain of the whole account that hid every loss that day.
        await using var portal = await PortalFactory.StartAsync();
        await OrderRequests.ScalarAsync(portal.OwnerConnectionString, "with gone as (delete from paper_account returning 1) select count(*) from gone");

        var refused = await Assert.ThrowsAsync<BrokerException>(() => portal.Get<PaperBroker>().GetPortfolioAsync(CancellationToken.None));

        Assert.Equal(BrokerErrorKind.Unavailable, refused.Kind);
    }
}
