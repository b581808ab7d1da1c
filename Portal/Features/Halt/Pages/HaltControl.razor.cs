using Portal.Infrastructure.Http;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Portal.Features.Identity;

namespace Portal.Features.Halt.Pages;

/// <summary>
/// The halt button with its deliberate confirmation: the first tap arms it for <see cref="ConfirmWindow"/>
/// (with a visible countdown) and puts "Don't halt" where HALT was; only a tap on CONFIRM, below it and in another colour,
/// within that window halts. One tap, or two on the same spot, does nothing.
/// </summary>
public sealed partial class HaltControl : IDisposable
{
    public static readonly TimeSpan ConfirmWindow = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan CountdownTick = TimeSpan.FromMilliseconds(100);

    [Inject] private IHaltCommands Commands { get; set; } = default!;
    [Inject] private TimeProvider Clock { get; set; } = default!;
    [Inject] private IAuthorizationService Authorization { get; set; } = default!;
    [CascadingParameter] private Task<AuthenticationState> Authentication { get; set; } = default!;

    /// <summary>Raised with the result once the halt has completed (cancels and closes included).</summary>
    [Parameter] public EventCallback<HaltResult> Halted { get; set; }

    private HaltMode Mode { get; set; } = HaltMode.Cancel;
    private string? Reason { get; set; }
    private DateTimeOffset? _armedUntil;
    private ITimer? _countdown;
    private bool _halting;

    /// <summary>Flatten is offered to RiskOfficers only (<see cref="Policies.MayFlatten"/>), and checked again on confirm.</summary>
    private bool _mayFlatten;

    protected override async Task OnInitializedAsync() =>
        _mayFlatten = (await Authorization.AuthorizeAsync((await Authentication).User, Policies.MayFlatten)).Succeeded;

    private double Remaining => _armedUntil is { } until ? Math.Max(0, (until - Clock.GetUtcNow()).TotalMilliseconds) : 0;
    private double RemainingPercent => 100 * Remaining / ConfirmWindow.TotalMilliseconds;
    private int RemainingSeconds => (int)Math.Ceiling(Remaining / 1000);

    public static string ModeText(HaltMode mode) => mode switch
    {
        HaltMode.Cancel => "halt and cancel orders",
        HaltMode.Flatten => "halt and flatten",
        _ => "halt",
    };

    /// <summary>The button says what it will do: "HALT", "HALT + CANCEL ORDERS", "HALT + FLATTEN".</summary>
    public static string ButtonText(HaltMode mode) => mode switch
    {
        HaltMode.Cancel => "HALT + CANCEL ORDERS",
        HaltMode.Flatten => "HALT + FLATTEN",
        _ => "HALT",
    };

    private void Arm()
    {
        _armedUntil = Clock.GetUtcNow() + ConfirmWindow;
        _countdown?.Dispose();
        _countdown = Clock.CreateTimer(_ => InvokeAsync(OnCountdownTick), null, CountdownTick, CountdownTick);
    }

    private void OnCountdownTick()
    {
        if (Remaining <= 0) Disarm();
        StateHasChanged();
    }

    private void Disarm()
    {
        _countdown?.Dispose();
        _countdown = null;
        _armedUntil = null;
    }

    private async Task ConfirmAsync()
    {
        if (Remaining <= 0 || _halting)
        {
            Disarm();
            return;
        }
        Disarm();
        var user = (await Authentication).User;
        if (Mode == HaltMode.Flatten && !(await Authorization.AuthorizeAsync(user, Policies.MayFlatten)).Succeeded) return;
        _halting = true;
        var actor = PortalActor.Of(user);
        var reason = ReasonText.Clean(Reason ?? "") is { Length: > 0 } typed ? typed : $"{ModeText(Mode)} from the portal by {user.Identity?.Name ?? actor}";
        try
        {
            await Halted.InvokeAsync(await Commands.HaltAsync(reason, Mode, actor));
        }
        finally
        {
            _halting = false;
        }
    }

    public void Dispose() => _countdown?.Dispose();
}
