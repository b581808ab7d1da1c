using Portal.Features.Readiness;

namespace Portal.Infrastructure.Alpaca;

/// <summary>
/// The outermost handler of the Alpaca client: in the Paper deployment phase no request leaves for a live (real
/// money) Alpaca URL, whatever <c>Broker:AllowLive</c> says. The phase is read per request, so moving to Small Live
/// (checklist green, second approver) opens it and moving back to Paper closes it at once, on every instance.
/// Without a phase store (the client used on its own) the phase counts as Paper.
/// </summary>
public sealed class LivePhaseGuard(DeploymentPhaseStore? phases) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var phase = phases?.Phase ?? DeploymentPhase.Paper;
        if (request.RequestUri is { } uri && !AlpacaOptions.IsPaperOrLocal(uri) && !AlpacaOptions.IsMarketData(uri) && !DeploymentPhases.IsLive(phase))
            throw new HttpRequestException(
                $"Refused: {uri.Host} is a live Alpaca URL and the deployment phase is {DeploymentPhases.Title(phase)}; live trading needs a live phase.");
        return base.SendAsync(request, cancellationToken);
    }
}
