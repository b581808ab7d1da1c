using Portal.Features.Identity;

namespace Portal.Tests.Infrastructure;

/// <summary>
/// A page of the app, with an element that shows only once its content has been loaded and rendered. A static page
/// ([ExcludeFromInteractiveRouting]) is not reached by the interactive router: only a full page load opens it.
/// </summary>
public sealed record PortalPage(string Path, string Name, string Ready, bool Static = false);

/// <summary>Every page a signed-in person can open, for the browser tests that walk them all.</summary>
public static class PortalPages
{
    public static readonly IReadOnlyList<PortalPage> SignedIn =
    [
        new("/", "dashboard", "#dependency-health"),
        new("/halt", "halt", "#halt-button"),
        new("/limits", "limits", "#limits-table"),
        new("/positions", "positions", "#order-blotter"),
        new("/audit", "audit", "tr.audit-row"),
        new("/admin", "admin", "#users .user-email"),
        new("/market-data", "data-quality", "#symbol-status"),
        new("/drift", "drift", "#no-models"),
        new("/checklist", "checklist", ".checklist-item"),
        new(IdentitySetup.ManagePath, "account", "#account-name", Static: true),
    ];
}
