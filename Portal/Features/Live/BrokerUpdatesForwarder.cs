using Portal.Domain.Broker;

namespace Portal.Features.Live;

/// <summary>Fills, cancels and rejections, as the broker adapter on this instance records them.</summary>
public sealed class BrokerUpdatesForwarder(IBroker broker, OpsEventBus live) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        broker.OrderUpdated += Forward;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        broker.OrderUpdated -= Forward;
        return Task.CompletedTask;
    }

    private void Forward(BrokerOrderState state) => live.Publish(OpsEventTypes.OrderUpdate, state);
}
