using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Identity;
using Portal.Features.Auth;

namespace Portal.Features.Identity;

/// <summary>
/// Met by an API-key identity carrying <see cref="Scope"/>, or by a sign-in cookie identity holding
/// one of <see cref="Roles"/>. Each half looks only at its own kind of identity, so a role claim can
/// never come from an API key, nor a scope from a cookie.
/// </summary>
public sealed class ScopeOrRoleRequirement(string scope, IReadOnlyList<string> roles)
    : AuthorizationHandler<ScopeOrRoleRequirement>, IAuthorizationRequirement
{
    public string Scope { get; } = scope;
    public IReadOnlyList<string> Roles { get; } = roles;

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeOrRoleRequirement requirement)
    {
        foreach (var identity in context.User.Identities)
        {
            if (!identity.IsAuthenticated) continue;
            var ok = identity.AuthenticationType switch
            {
                ApiKeyAuthenticationHandler.SchemeName => identity.HasClaim(ApiKeyAuthenticationHandler.ScopeClaim, requirement.Scope),
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

    public override string ToString() => $"API key with scope '{Scope}' or one of the roles {string.Join(", ", Roles)}";
}
