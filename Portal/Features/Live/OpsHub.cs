using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;

namespace Portal.Features.Live;

/// <summary>
/// <c>/hubs/ops</c>: the live events for external clients such as a wall screen. Server-to-client
/// only; each event arrives as a method named after its type (see docs/live-events.md). A connection joins one group
/// per read policy it satisfies (<see cref="OpsEventAccess"/>), so it receives only what its key's scopes or its
/// person's roles may read; <see cref="OpsHubRevalidator"/> closes it when the key is revoked or the person's roles change.
/// </summary>
public sealed class OpsHub(IAuthorizationService authorization, OpsHubConnections connections) : Hub
{
    public override async Task OnConnectedAsync()
    {
        foreach (var policy in OpsEventAccess.ReadPolicies)
            if ((await authorization.AuthorizeAsync(Context.User!, policy)).Succeeded)
                await Groups.AddToGroupAsync(Context.ConnectionId, OpsEventAccess.Group(policy));
        connections.Add(Context);
        await base.OnConnectedAsync();
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        connections.Remove(Context.ConnectionId);
        return base.OnDisconnectedAsync(exception);
    }
}

/// <summary>
/// Sends each event to the hub clients allowed to read it, exactly once: only the instance where it happened sends
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
            await hub.Clients.Group(OpsEventAccess.Group(OpsEventAccess.PolicyFor(opsEvent.Type))).SendAsync(opsEvent.Type, opsEvent);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Could not forward {Type} to hub clients", opsEvent.Type);
        }
    }
}
