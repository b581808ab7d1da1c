using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;
using Portal.Features.Live;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Ui;

/// <summary>
/// bUnit with MudBlazor and a live event bus that delivers to this process only (its Redis broadcast has nowhere to go).
/// Disposed asynchronously: some MudBlazor services (the key interceptor behind chips and menus) only dispose that way.
/// </summary>
public abstract class ComponentTestContext : BunitContext, IAsyncLifetime
{
    protected ComponentTestContext()
    {
        Services.AddMudServices();
        JSInterop.Mode = JSRuntimeMode.Loose;
        Bus = LocalOpsEventBus.Create();
        Services.AddSingleton(Bus);
    }

    protected OpsEventBus Bus { get; }

    Task IAsyncLifetime.InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await DisposeAsync();
}
