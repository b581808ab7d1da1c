using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components.Endpoints;
using Microsoft.AspNetCore.Routing.Template;

namespace Portal.Features.Identity;

/// <summary>Which roles may open a page, read from the page's own policy, so the access-denied page can say so.</summary>
public sealed class PageAccess(EndpointDataSource endpoints)
{
    /// <summary>The roles the page at <paramref name="url"/> admits, or null when it is not a page of this site or names no role policy.</summary>
    public IReadOnlyList<string>? RolesFor(string? url)
    {
        if (!LocalUrl.IsLocal(url)) return null;
        var path = url!.Split('?', '#')[0];
        foreach (var endpoint in endpoints.Endpoints.OfType<RouteEndpoint>())
        {
            if (endpoint.Metadata.GetMetadata<ComponentTypeMetadata>() is null) continue;
            var matcher = new TemplateMatcher(new RouteTemplate(endpoint.RoutePattern), []);
            if (!matcher.TryMatch(path, [])) continue;
            return endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>()
                .Select(a => a.Policy is { } policy && Policies.RolesOf.TryGetValue(policy, out var roles) ? roles : null)
                .FirstOrDefault(roles => roles is not null);
        }
        return null;
    }
}
