using Microsoft.AspNetCore.SignalR;

namespace Portal.Features.Live;

/// <summary>
/// <c>/hubs/ops</c>: the live events for external clients such as a wall screen. Server-to-client
/// only; each event arrives as a method named after its type (see docs/live-events.md).
/// </summary>
public sealed class OpsHub : Hub;

/// <summary>
/// Sends each event to every hub client exactly once: only the instance where it happened sends
/// it, and the Redis backplane carries it to clients connected to other instances.
/// </summary>
public sealed class OpsHubForwarder(OpsEventBus bus, IHubContext<OpsHub> hub, ILogger<OpsHubForwarder> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        bus.Received += Forward;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        bus.Received -= Forward;
        return Task.CompletedTask;
    }

    private void Forward(OpsEvent opsEvent)
    {
        if (opsEvent.Origin != bus.Origin) return;
        _ = SendAsync(opsEvent);
    }

    private async Task SendAsync(OpsEvent opsEvent)
    {
        try
        {
            await hub.Clients.All.SendAsync(opsEvent.Type, opsEvent);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Could not forward {Type} to hub clients", opsEvent.Type);
        }
    }
}
