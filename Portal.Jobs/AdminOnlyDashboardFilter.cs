using Hangfire.Dashboard;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Portal.Jobs;

/// <summary>
/// The job dashboard is for signed-in users in role Admin. Users sign in with the Identity cookie
/// (scheme "Identity.Application"), which need not be the default scheme, so it is asked for explicitly when
/// registered; API keys carry no roles and never pass. Until sign-in exists nobody passes.
/// </summary>
public sealed class AdminOnlyDashboardFilter : IDashboardAsyncAuthorizationFilter
{
    public const string IdentityScheme = "Identity.Application";
    public const string AdminRole = "Admin";

    public async Task<bool> AuthorizeAsync(DashboardContext context)
    {
        var http = context.GetHttpContext();
        var schemes = http.RequestServices.GetRequiredService<IAuthenticationSchemeProvider>();
        if (await schemes.GetSchemeAsync(IdentityScheme) is not null)
        {
            var result = await http.AuthenticateAsync(IdentityScheme);
            // Hangfire answers 401 or 403 by whether HttpContext.User is authenticated.
            if (result.Succeeded) http.User = result.Principal;
        }
        return http.User.Identity?.IsAuthenticated == true && http.User.IsInRole(AdminRole);
    }
}
