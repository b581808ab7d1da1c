using Portal.Domain.Broker;

namespace Portal.Infrastructure.Alpaca;

/// <summary>Alpaca's account setting <c>suspend_trade</c>: while on, Alpaca refuses every new order on the account, whoever sends it.</summary>
public sealed class AlpacaKillPath(AlpacaClient client) : IBrokerKillPath
{
    public string Broker => "alpaca";

    public async Task<bool> IsEngagedAsync(CancellationToken ct) => (await client.GetAccountConfigurationsAsync(ct)).SuspendTrade;

    public async Task<bool> SetEngagedAsync(bool engaged, CancellationToken ct) => (await client.SetSuspendTradeAsync(engaged, ct)).SuspendTrade;
}
