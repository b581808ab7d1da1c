using Microsoft.AspNetCore.Authorization;

namespace Portal.Features.Identity;

public static class FrameworkEndpoints
{
    /// <summary>
    /// Blazor's own endpoints (the circuit hub under /_blazor, /_framework/opaque-redirect) serve
    /// every page, the anonymous sign-in page included: they are anonymous, and each page checks its
    /// own policy. Marking them explicitly keeps the fallback policy off them and the matrix test honest.
    /// </summary>
    public static TBuilder AllowAnonymousFrameworkEndpoints<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(endpoint =>
        {
            if (endpoint is RouteEndpointBuilder { RoutePattern.RawText: { } route }
                && (route.StartsWith("/_blazor", StringComparison.Ordinal) || route.StartsWith("/_framework/", StringComparison.Ordinal)))
                endpoint.Metadata.Add(new AllowAnonymousAttribute());
        });
        return builder;
    }
}
