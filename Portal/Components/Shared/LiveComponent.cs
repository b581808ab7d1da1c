using Microsoft.AspNetCore.Components;
using Portal.Features.Live;

namespace Portal.Components.Shared;

/// <summary>
/// A component that re-renders on live events: subscribes to the <see cref="OpsEventBus"/> in
/// OnInitialized, unsubscribes in Dispose. Subclasses say which events concern them.
/// </summary>
public abstract class LiveComponent : ComponentBase, IDisposable
{
    [Inject] private OpsEventBus Bus { get; set; } = default!;

    protected override void OnInitialized() => Bus.Received += OnReceived;

    /// <summary>Runs on the component's dispatcher (like any event handler); return true to re-render.</summary>
    protected abstract bool Handle(OpsEvent opsEvent);

    private void OnReceived(OpsEvent opsEvent) => _ = InvokeAsync(() =>
    {
        if (Handle(opsEvent)) StateHasChanged();
    });

    public virtual void Dispose()
    {
        Bus.Received -= OnReceived;
        GC.SuppressFinalize(this);
    }
}
