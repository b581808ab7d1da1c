using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Portal.Features.Limits;

namespace Portal.Features.Admin.Pages;

public sealed partial class AdminApiKeys
{
    private IReadOnlyList<ApiKeySummary> _keys = [];
    private readonly HashSet<string> _scopes = [];
    private string? _name;
    private string? _strategies;
    private int? _expiresInDays;
    private (string Key, ApiKeySummary Record)? _created;
    private string? _confirmRevoke;
    private string? _error;
    private bool _busy;

    [Inject] private IPortalAdministration Administration { get; set; } = null!;
    [Inject] private AuthenticationStateProvider Authentication { get; set; } = null!;
    [Inject] private TimeProvider Clock { get; set; } = null!;

    protected override async Task OnInitializedAsync() => _keys = await Administration.ApiKeysAsync(CancellationToken.None);

    private void Toggle(string scope, bool on)
    {
        if (on) _scopes.Add(scope);
        else _scopes.Remove(scope);
    }

    private async Task CreateAsync()
    {
        _error = null;
        _created = null;
        _busy = true;
        try
        {
            var strategies = (_strategies ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            _created = await Administration.CreateApiKeyAsync(_name ?? "", _scopes.ToList(), strategies, _expiresInDays, await ActorAsync(), CancellationToken.None);
            _name = null;
            _strategies = null;
            _expiresInDays = null;
            _scopes.Clear();
            _keys = await Administration.ApiKeysAsync(CancellationToken.None);
        }
        catch (ArgumentException ex)
        {
            _error = ex.Message;
        }
        catch (Microsoft.EntityFrameworkCore.DbUpdateException)
        {
            _error = $"A key named '{_name}' exists already (names stay taken after revocation).";
        }
        finally
        {
            _busy = false;
        }
    }

    /// <summary>Forgets the key: it cannot be shown again.</summary>
    private void Dismiss() => _created = null;

    private async Task RevokeAsync(string name)
    {
        _busy = true;
        try
        {
            if (!await Administration.RevokeApiKeyAsync(name, await ActorAsync(), CancellationToken.None)) _error = $"'{name}' was already revoked.";
            _confirmRevoke = null;
            _keys = await Administration.ApiKeysAsync(CancellationToken.None);
        }
        catch (ArgumentException ex)
        {
            _error = ex.Message;
        }
        finally
        {
            _busy = false;
        }
    }

    private async Task<string> ActorAsync() => LimitsApi.Actor((await Authentication.GetAuthenticationStateAsync()).User);
}
