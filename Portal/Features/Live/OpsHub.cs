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
        var readable = new HashSet<string>(StringComparer.Ordinal);
        foreach (var policy in OpsEventAccess.ReadPolicies)
            if ((await authorization.AuthorizeAsync(Context.User!, policy)).Succeeded)
                readable.Add(policy);
        connections.Add(Context, readable);
        await base.OnConnectedAsync();
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        connections.Remove(Context.ConnectionId);
        return base.OnDisconnectedAsync(exception);
    }
}

/// <summary>
/// Sends each event, this instance's and those the <see cref="OpsEventBus"/> brings from other instances, to the hub
/// clients connected here that may read it: every instance serves its own clients, so each client gets each event
/// once. Events do not go through the SignalR backplane: the bus already carries them between instances in batches,
/// and a backplane publish per event and read group cost Redis and this instance a message per event even with no
/// client connected anywhere.
/// </summary>
public sealed class OpsHubForwarder(OpsEventBus bus, OpsHubConnections connections, IHubContext<OpsHub> hub, ILogger<OpsHubForwarder> logger)
    : IHostedService
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
        foreach (var connectionId in connections.AllowedToRead(OpsEventAccess.PolicyFor(opsEvent.Type)))
            _ = SendAsync(connectionId, opsEvent);
    }

    // A connection on this instance is written to directly (the lifetime manager publishes nothing for it).
    private async Task SendAsync(string connectionId, OpsEvent opsEvent)
    {
        try
        {
            await hub.Clients.Client(connectionId).SendAsync(opsEvent.Type, opsEvent);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Could not forward {Type} to hub clients", opsEvent.Type);
        }
    }
}
