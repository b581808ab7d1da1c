using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MudBlazor.Services;
using Portal.Features.Live;
using Portal.Infrastructure.Redis;

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
        Bus = new OpsEventBus(null!, Options.Create(new RedisOptions()), TimeProvider.System, NullLogger<OpsEventBus>.Instance);
        Services.AddSingleton(Bus);
    }

    protected OpsEventBus Bus { get; }

    Task IAsyncLifetime.InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await DisposeAsync();
}
