using MudBlazor.Services;
using Portal.Features.Halt;
using Portal.Features.Identity;

namespace Portal.Components;

public static class UiSetup
{
    public static IHostApplicationBuilder AddPortalUi(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddMudServices();
        builder.Services.AddSingleton<ITradingStatusSource, TradingStatusSource>();
        builder.Services.AddSingleton<IHaltCommands, KillSwitchCommands>();
        Portal.Features.Dashboard.DashboardSetup.AddDashboard(builder);
        return builder;
    }

    public static WebApplication MapPortalUi(this WebApplication app)
    {
        app.MapStaticAssets().AllowAnonymous();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode().AllowAnonymousFrameworkEndpoints();
        return app;
    }
}
