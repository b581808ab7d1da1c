using Microsoft.Extensions.Options;

namespace Portal.Features.Admin;

/// <summary><c>Admin:*</c>: how long a request for a privileged role waits for another Admin.</summary>
public sealed class AdminOptions
{
    public const string Section = "Admin";

    /// <summary>A RiskOfficer or Admin grant not approved or rejected within this time expires (ask again).</summary>
    public TimeSpan RoleGrantExpiry { get; set; } = TimeSpan.FromHours(24);
}

/// <summary>Refuses start-up with a message naming each bad key.</summary>
public sealed class AdminOptionsValidator : IValidateOptions<AdminOptions>
{
    public ValidateOptionsResult Validate(string? name, AdminOptions o) =>
        o.RoleGrantExpiry < TimeSpan.FromMinutes(5) || o.RoleGrantExpiry > TimeSpan.FromDays(7)
            ? ValidateOptionsResult.Fail($"{AdminOptions.Section}:RoleGrantExpiry must be between 00:05:00 and 7 days (was {o.RoleGrantExpiry}).")
            : ValidateOptionsResult.Success;
}
