using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Identity;
using Portal.Features.Auth;

namespace Portal.Features.Identity;

/// <summary>
/// Met by an API-key identity carrying one of <see cref="Scopes"/>, or by a sign-in cookie identity holding
/// one of <see cref="Roles"/>. Each half looks only at its own kind of identity, so a role claim can
/// never come from an API key, nor a scope from a cookie.
/// </summary>
public sealed class ScopeOrRoleRequirement(IReadOnlyList<string> scopes, IReadOnlyList<string> roles)
    : AuthorizationHandler<ScopeOrRoleRequirement>, IAuthorizationRequirement
{
    public IReadOnlyList<string> Scopes { get; } = scopes;
    public IReadOnlyList<string> Roles { get; } = roles;

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeOrRoleRequirement requirement)
    {
        foreach (var identity in context.User.Identities)
        {
            if (!identity.IsAuthenticated) continue;
            var ok = identity.AuthenticationType switch
            {
                ApiKeyAuthenticationHandler.SchemeName => requirement.Scopes.Any(s => identity.HasClaim(ApiKeyAuthenticationHandler.ScopeClaim, s)),
                _ when identity.AuthenticationType == IdentityConstants.ApplicationScheme =>
                    requirement.Roles.Any(r => identity.HasClaim(identity.RoleClaimType, r)),
                _ => false,
            };
            if (ok)
            {
                context.Succeed(requirement);
                break;
            }
        }
        return Task.CompletedTask;
    }

    public override string ToString() => $"API key with one of the scopes {string.Join(", ", Scopes)} or one of the roles {string.Join(", ", Roles)}";
}
