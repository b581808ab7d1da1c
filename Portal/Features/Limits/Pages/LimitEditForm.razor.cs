using Portal.Infrastructure.Http;
using Microsoft.AspNetCore.Components;
using MudBlazor;
using Portal.Domain.Risk;

namespace Portal.Features.Limits.Pages;

public sealed partial class LimitEditForm
{
    private MudForm _form = null!;
    private Dictionary<string, decimal> _values = [];
    private Dictionary<string, decimal> _ceilings = [];
    private string _reason = "";
    private bool _submitting;

    /// <summary>The limits in force: the form starts from them.</summary>
    [Parameter, EditorRequired] public RiskLimits Current { get; set; } = null!;

    [Parameter, EditorRequired] public RiskLimits Ceilings { get; set; } = null!;

    /// <summary>True where no approval is required (<c>Limits:RequireApproval=false</c>): the set goes into force when submitted.</summary>
    [Parameter] public bool AppliesAtOnce { get; set; }

    /// <summary>Called with a complete, valid set and its reason.</summary>
    [Parameter] public EventCallback<LimitProposal> OnPropose { get; set; }

    private RiskLimits? _startedFrom;

    protected override void OnParametersSet()
    {
        // A live refresh with the same limits keeps what the officer is typing.
        if (Current == _startedFrom) return;
        _startedFrom = Current;
        _values = Current.Entries().ToDictionary(e => e.Name, e => e.Value);
        _ceilings = Ceilings.Entries().ToDictionary(e => e.Name, e => e.Value);
    }

    private string Helper(string name) => LimitText.IsFraction(name)
        ? $"A fraction (0.15 = 15 %); ceiling {_ceilings[name]}"
        : $"Ceiling {LimitText.Value(name, _ceilings[name])}";

    private string? Problem(string name, decimal value) =>
        LimitRules.CheckBounds(name, value) ?? (value > _ceilings[name] ? $"must not exceed its ceiling {LimitText.Value(name, _ceilings[name])}." : null);

    private static string? ReasonProblem(string reason) =>
        string.IsNullOrWhiteSpace(reason) || ReasonText.Problem(reason.Trim()) is not { } problem ? null : "The reason " + problem;

    private async Task ProposeAsync()
    {
        await _form.ValidateAsync();
        if (!_form.IsValid) return;
        _submitting = true;
        try
        {
            await OnPropose.InvokeAsync(new LimitProposal(RiskOptions.ToLimits(_values, null), _reason.Trim()));
            // Ready for the next change: the reason is per proposal, and an empty one is not an error until submitted.
            _reason = "";
            await _form.ResetValidationAsync();
        }
        finally
        {
            _submitting = false;
        }
    }
}

public sealed record LimitProposal(RiskLimits Limits, string Reason);
