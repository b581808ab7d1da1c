using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Portal.Features.Identity;
using Portal.Features.Limits;

namespace Portal.Features.Admin.Pages;

public sealed partial class AdminUsers
{
    private IReadOnlyList<UserSummary> _users = [];
    private IReadOnlyList<RoleGrantView> _grants = [];
    private string? _me;
    private string? _notice;
    private readonly HashSet<string> _roles = [];
    private string? _email;
    private (UserSummary User, string Password)? _created;
    private string? _error;
    private bool _busy;

    [Inject] private IPortalAdministration Administration { get; set; } = null!;
    [Inject] private AuthenticationStateProvider Authentication { get; set; } = null!;
    [Inject] private TimeProvider Clock { get; set; } = null!;

    protected override async Task OnInitializedAsync()
    {
        _me = LimitsApi.Actor((await Authentication.GetAuthenticationStateAsync()).User);
        await ReloadAsync();
    }

    private async Task ReloadAsync()
    {
        _users = await Administration.UsersAsync(CancellationToken.None);
        _grants = await Administration.PendingRoleGrantsAsync(CancellationToken.None);
    }

    /// <summary>A hint only: the service refuses an approval by the requester or the person, whatever the page shows.</summary>
    private bool MayApprove(RoleGrantView grant) =>
        !string.Equals(grant.Email, _me, StringComparison.OrdinalIgnoreCase) && !string.Equals(grant.RequestedBy, _me, StringComparison.OrdinalIgnoreCase);

    private void Toggle(string role, bool on)
    {
        if (on) _roles.Add(role);
        else _roles.Remove(role);
    }

    private async Task CreateAsync()
    {
        _created = null;
        await RunAsync(async actor =>
        {
            if (_roles.Count == 0) throw new ArgumentException("Give the user at least one role.");
            _created = await Administration.CreateUserAsync(_email ?? "", _roles.ToList(), actor, CancellationToken.None);
            if (_roles.Except(_created.Value.User.Roles).ToList() is { Count: > 0 } waiting)
                _notice = $"{string.Join(" and ", waiting)} for {_created.Value.User.Email} waits for another Admin's approval.";
            _email = null;
            _roles.Clear();
        });
    }

    private Task AddRoleAsync(UserSummary user, string role) => RunAsync(async actor =>
    {
        if (await Administration.AddRoleAsync(user.Id, role, actor, CancellationToken.None) == RoleChange.PendingApproval)
            _notice = $"{role} for {user.Email} waits for another Admin's approval.";
    });

    private Task ApproveAsync(RoleGrantView grant) => RunAsync(actor => Administration.ApproveRoleGrantAsync(grant.Id, actor, CancellationToken.None));

    private Task RejectAsync(RoleGrantView grant) => RunAsync(actor => Administration.RejectRoleGrantAsync(grant.Id, actor, CancellationToken.None));

    private Task RemoveRoleAsync(UserSummary user, string role) => RunAsync(actor => Administration.RemoveRoleAsync(user.Id, role, actor, CancellationToken.None));

    private Task LockAsync(UserSummary user) => RunAsync(actor => Administration.LockAsync(user.Id, actor, CancellationToken.None));

    private Task UnlockAsync(UserSummary user) => RunAsync(actor => Administration.UnlockAsync(user.Id, actor, CancellationToken.None));

    /// <summary>Runs one admin action, shows why it was refused if it was, and reloads the list.</summary>
    private async Task RunAsync(Func<string, Task> action)
    {
        _error = null;
        _notice = null;
        _busy = true;
        try
        {
            await action(LimitsApi.Actor((await Authentication.GetAuthenticationStateAsync()).User));
        }
        catch (Exception ex) when (ex is ArgumentException or IdentityOperationException)
        {
            _error = ex.Message;
        }
        finally
        {
            _busy = false;
        }
        await ReloadAsync();
    }

    private string Status(UserSummary user) =>
        user.IsLocked(Clock.GetUtcNow())
            ? user.LockedUntil == DateTimeOffset.MaxValue ? "Locked by an admin" : $"Locked until {Portal.Components.Shared.Formats.Utc(user.LockedUntil!.Value)}"
            : user.FailedSignIns > 0 ? $"Active ({user.FailedSignIns} failed sign-ins)" : "Active";
}
