using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Portal.Features.Identity;

/// <summary>
/// Identity's own EF model (tables AspNetUsers, AspNetRoles, ...) over the schema that
/// migrations/0004_identity.sql and 0021_identity_passkeys.sql create (schema version 3, with passkeys). Kept apart from PortalDbContext so the Identity stores own
/// their model unchanged; a test checks the SQL schema matches this model column for column.
/// </summary>
public sealed class PortalIdentityDbContext(DbContextOptions<PortalIdentityDbContext> options)
    : IdentityDbContext<IdentityUser, IdentityRole, string>(options);
