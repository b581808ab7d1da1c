using System.Globalization;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Portal.Features.Identity;
using Portal.Infrastructure.Http;

namespace Portal.Features.Halt.Pages;

/// <summary>
/// The halt as a plain HTML form, rendered on the server without a circuit: when the live connection is down the halt
/// page's taps are not sent, but a form post still is. Same rules as the live page and the emergency API: OnCall or
/// RiskOfficer; flatten only for a RiskOfficer (<see cref="Policies.MayFlatten"/>), checked again on the post; an
/// explicit confirmation; the post carries an antiforgery token (the framework refuses one without it).
/// </summary>
public sealed partial class HaltFormPage
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    [Inject] private IHaltCommands Commands { get; set; } = default!;
    [Inject] private ITradingStatusSource Status { get; set; } = default!;
    [Inject] private Portal.Features.Audit.IActorNames ActorNames { get; set; } = default!;
    [Inject] private IAuthorizationService Authorization { get; set; } = default!;
    [CascadingParameter] private Task<AuthenticationState> Authentication { get; set; } = default!;
    [CascadingParameter] private HttpContext HttpContext { get; set; } = default!;

    [SupplyParameterFromForm] private HaltFormInput Input { get; set; } = default!;

    private bool _mayFlatten;
    private readonly Dictionary<string, string> _errors = [];
    private string? _refusal;
    private HaltResult? _result;

    /// <summary>The state before this post when trading was already halted: a repeated post (a reload of the result) says so.</summary>
    private TradingStatus? _alreadyHalted;

    /// <summary>Who halted it before, as a person reads it: their email rather than the recorded user id.</summary>
    private string? _alreadyHaltedBy;

    private IEnumerable<HaltMode> OfferedModes => _mayFlatten ? [HaltMode.Halt, HaltMode.Cancel, HaltMode.Flatten] : [HaltMode.Halt, HaltMode.Cancel];

    protected override async Task OnInitializedAsync()
    {
        // Cancel is the live page's default too: it also stops orders already at the broker.
        Input ??= new() { Mode = ModeValue(HaltMode.Cancel) };
        _mayFlatten = (await Authorization.AuthorizeAsync((await Authentication).User, Policies.MayFlatten)).Succeeded;
    }

    private static string ModeValue(HaltMode mode) => mode.ToString().ToLowerInvariant();

    private async Task HaltAsync()
    {
        var mode = Enum.GetValues<HaltMode>().Where(m => ModeValue(m) == Input.Mode).Select(m => (HaltMode?)m).FirstOrDefault();
        if (mode is null) _errors[nameof(HaltFormInput.Mode)] = "Choose halt, cancel orders or flatten.";
        if (!Input.Confirmed) _errors[nameof(HaltFormInput.Confirmed)] = "Tick \"I mean it\" to halt. Nothing was halted.";
        if (_errors.Count > 0)
        {
            HttpContext.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        var user = (await Authentication).User;
        // The form offers flatten to RiskOfficers only, but a post can be crafted: as on the API, a refused flatten halts nothing.
        if (mode == HaltMode.Flatten && !(await Authorization.AuthorizeAsync(user, Policies.MayFlatten)).Succeeded)
        {
            HttpContext.Response.StatusCode = StatusCodes.Status403Forbidden;
            _refusal = "Flatten closes every position: it needs a RiskOfficer. Nothing was halted; choose halt or cancel orders.";
            return;
        }

        var before = Status.Current;
        _alreadyHalted = before.Kind == TradingStatusKind.Halted ? before : null;
        var actor = PortalActor.Of(user);
        var reason = ReasonText.Clean(Input.Reason ?? "") is { Length: > 0 } typed
            ? typed
            : $"{HaltControl.ModeText(mode!.Value)} from the plain halt form by {user.Identity?.Name ?? actor}";
        _result = await Commands.HaltAsync(reason, mode!.Value, strategyId: null, actor);
        // After the halt, never before it: the lookup needs Postgres, which may be what is down.
        if (_alreadyHalted is not null) _alreadyHaltedBy = await WhoAsync(before.ChangedBy);
    }

    private async Task<string> WhoAsync(string actor)
    {
        try
        {
            return Portal.Features.Audit.ActorText.Of(actor, await ActorNames.NamesAsync([actor], CancellationToken.None));
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
        {
            return actor;
        }
    }

    private sealed class HaltFormInput
    {
        /// <summary>"halt", "cancel" or "flatten", as on the emergency API.</summary>
        public string? Mode { get; set; }

        public string? Reason { get; set; }

        public bool Confirmed { get; set; }
    }
}
