using Microsoft.AspNetCore.Components;
using Portal.Domain.Risk;

namespace Portal.Features.Limits.Pages;

public sealed partial class PendingLimitChanges
{
    [Parameter, EditorRequired] public IReadOnlyList<LimitVersionView> Pending { get; set; } = [];

    /// <summary>The limits in force, to show each pending change as old → new.</summary>
    [Parameter, EditorRequired] public RiskLimits Active { get; set; } = null!;

    /// <summary>The version in force: a change proposed from another cannot be approved.</summary>
    [Parameter, EditorRequired] public long ActiveVersion { get; set; }

    /// <summary>The RiskOfficer viewing, who may decide changes others proposed; null for a reader.</summary>
    [Parameter] public string? Decider { get; set; }

    [Parameter] public EventCallback<LimitVersionView> OnApprove { get; set; }

    [Parameter] public EventCallback<LimitVersionView> OnReject { get; set; }

    private bool IsOwn(LimitVersionView version) => version.ProposedBy == Decider;

    private bool IsStale(LimitVersionView version) => version.BasedOn != ActiveVersion;
}
