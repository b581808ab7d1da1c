using System.Globalization;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Web;
using Portal.Features.Identity;
using Portal.Infrastructure.Http;

namespace Portal.Features.Halt.Pages;

/// <summary>
/// The halt button with its deliberate confirmation: the first tap arms it for <see cref="ConfirmWindow"/> (with a
/// visible countdown) and puts "Don't halt" where HALT was; only pressing CONFIRM, below it and in another colour, for
/// <see cref="HoldToConfirm"/> within that window halts. Taps, double taps included, never halt. The button names the
/// scope (everything or one strategy) and what the mode will act on ("HALT EVERYTHING + CANCEL 3 OPEN ORDERS").
/// </summary>
public sealed partial class HaltControl : IDisposable
{
    public static readonly TimeSpan ConfirmWindow = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan HoldToConfirm = TimeSpan.FromSeconds(1.5);
    private static readonly TimeSpan CountdownTick = TimeSpan.FromMilliseconds(100);
    private const string Everything = "everything";
    private const string OneStrategy = "strategy";

    [Inject] private IHaltCommands Commands { get; set; } = default!;
    [Inject] private TimeProvider Clock { get; set; } = default!;
    [Inject] private IAuthorizationService Authorization { get; set; } = default!;
    [CascadingParameter] private Task<AuthenticationState> Authentication { get; set; } = default!;

    /// <summary>Raised with the result once the halt has completed (cancels and closes included).</summary>
    [Parameter] public EventCallback<HaltResult> Halted { get; set; }

    private HaltMode Mode { get; set; } = HaltMode.Cancel;
    private string? Reason { get; set; }
    private string _scopeChoice = Everything;
    private string? _strategy;
    private IReadOnlyList<string> _strategies = [];
    private HaltEffect? _effect;
    private DateTimeOffset? _armedUntil;
    private DateTimeOffset? _holdStartedAt;
    private ITimer? _countdown;
    private ITimer? _hold;
    private bool _halting;

    /// <summary>Flatten is offered to RiskOfficers only (<see cref="Policies.MayFlatten"/>), and checked again on confirm.</summary>
    private bool _mayFlatten;

    /// <summary>The strategy to halt; null halts everything.</summary>
    private string? Strategy => _scopeChoice == OneStrategy ? _strategy : null;

    protected override async Task OnInitializedAsync()
    {
        _mayFlatten = (await Authorization.AuthorizeAsync((await Authentication).User, Policies.MayFlatten)).Succeeded;
        _strategies = await Commands.StrategiesAsync();
        _strategy = _strategies.Count > 0 ? _strategies[0] : null;
        _effect = await Commands.PreviewAsync(null);
    }

    private double Remaining => _armedUntil is { } until ? Math.Max(0, (until - Clock.GetUtcNow()).TotalMilliseconds) : 0;
    private double RemainingPercent => 100 * Remaining / ConfirmWindow.TotalMilliseconds;
    private int RemainingSeconds => (int)Math.Ceiling(Remaining / 1000);

    public static string ModeText(HaltMode mode) => mode switch
    {
        HaltMode.Cancel => "halt and cancel orders",
        HaltMode.Flatten => "halt and flatten",
        _ => "halt",
    };

    /// <summary>
    /// The button says whom it halts and what else it does, with today's numbers: "HALT EVERYTHING",
    /// "HALT demo-momentum + CANCEL 2 OPEN ORDERS", "HALT EVERYTHING + FLATTEN 9 POSITIONS ($47.9k)".
    /// </summary>
    public static string ButtonText(HaltMode mode, string? strategy, HaltEffect? effect)
    {
        var halt = strategy is null ? "HALT EVERYTHING" : $"HALT {strategy}";
        return mode switch
        {
            HaltMode.Cancel => $"{halt} + CANCEL {Count(effect?.OpenOrders, "OPEN ORDER")}",
            HaltMode.Flatten => $"{halt} + FLATTEN {Count(effect?.Positions, "POSITION")}" + (effect is null ? "" : $" ({CompactUsd(effect.PositionsValueUsd)})"),
            _ => halt,
        };
    }

    private static string Count(int? count, string noun) => count switch
    {
        null => noun + "S",
        1 => "1 " + noun,
        var n => $"{n} {noun}S",
    };

    /// <summary>Money at a glance: $950, $47.9k, $1.2M.</summary>
    public static string CompactUsd(decimal amount) => Math.Abs(amount) switch
    {
        < 1_000m => amount.ToString("$#,0", CultureInfo.InvariantCulture),
        < 1_000_000m => (amount / 1_000m).ToString("$#,0.#", CultureInfo.InvariantCulture) + "k",
        _ => (amount / 1_000_000m).ToString("$#,0.#", CultureInfo.InvariantCulture) + "M",
    };

    private async Task ChooseScopeAsync(string choice)
    {
        _scopeChoice = choice;
        // Flattening closes the whole account's positions: it has no strategy scope.
        if (Strategy is not null && Mode == HaltMode.Flatten) Mode = HaltMode.Cancel;
        Disarm();
        _effect = await Commands.PreviewAsync(Strategy);
    }

    private async Task ChooseStrategyAsync(string strategy)
    {
        _strategy = strategy;
        Disarm();
        _effect = await Commands.PreviewAsync(Strategy);
    }

    private void ChooseMode(HaltMode mode)
    {
        Mode = mode;
        Disarm();
    }

    private void Arm()
    {
        _armedUntil = Clock.GetUtcNow() + ConfirmWindow;
        _countdown?.Dispose();
        _countdown = Clock.CreateTimer(_ => InvokeAsync(OnCountdownTick), null, CountdownTick, CountdownTick);
    }

    private void OnCountdownTick()
    {
        // A hold under way finishes even if the window closes meanwhile.
        if (Remaining <= 0 && _holdStartedAt is null) Disarm();
        StateHasChanged();
    }

    private void Disarm()
    {
        StopHold();
        _countdown?.Dispose();
        _countdown = null;
        _armedUntil = null;
    }

    private void StartHold()
    {
        if (_armedUntil is null || Remaining <= 0 || _halting || _holdStartedAt is not null) return;
        var started = Clock.GetUtcNow();
        _holdStartedAt = started;
        _hold = Clock.CreateTimer(_ => InvokeAsync(() => ConfirmAsync(started)), null, HoldToConfirm, Timeout.InfiniteTimeSpan);
    }

    // Enter or Space held down confirms as a pointer held down does; the keyboard's auto-repeat must not restart it.
    private void HoldKeyDown(KeyboardEventArgs key)
    {
        if (!key.Repeat && key.Key is "Enter" or " ") StartHold();
    }

    private void StopHold()
    {
        _hold?.Dispose();
        _hold = null;
        _holdStartedAt = null;
    }

    /// <summary>
    /// The hold's timer ran out while that same press is still down. The timer is the measure: a second reading of the
    /// wall clock could come out a hair short of the hold and drop a confirmation the person made.
    /// </summary>
    private async Task ConfirmAsync(DateTimeOffset press)
    {
        if (_holdStartedAt != press || _halting) return;
        var strategy = Strategy;
        Disarm();
        var user = (await Authentication).User;
        if (Mode == HaltMode.Flatten && (strategy is not null || !(await Authorization.AuthorizeAsync(user, Policies.MayFlatten)).Succeeded)) return;
        _halting = true;
        StateHasChanged();
        var actor = PortalActor.Of(user);
        var scope = strategy is null ? "" : $" of {strategy}";
        var reason = ReasonText.Clean(Reason ?? "") is { Length: > 0 } typed ? typed : $"{ModeText(Mode)}{scope} from the portal by {user.Identity?.Name ?? actor}";
        try
        {
            await Halted.InvokeAsync(await Commands.HaltAsync(reason, Mode, strategy, actor));
            _effect = await Commands.PreviewAsync(strategy);
        }
        finally
        {
            _halting = false;
            StateHasChanged();
        }
    }

    public void Dispose()
    {
        _countdown?.Dispose();
        _hold?.Dispose();
    }
}
