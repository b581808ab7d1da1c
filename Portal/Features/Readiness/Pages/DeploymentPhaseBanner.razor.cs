using Microsoft.AspNetCore.Components;
using Portal.Features.Live;

namespace Portal.Features.Readiness.Pages;

/// <summary>The deployment phase in force and its ceilings; follows phase changes live.</summary>
public sealed partial class DeploymentPhaseBanner
{
    [Inject] private DeploymentPhaseStore Phases { get; set; } = default!;

    private DeploymentPhaseView Phase => Phases.Current ?? new DeploymentPhaseView(DeploymentPhase.Paper, "not read from the database yet", "system", default, 0);

    private bool IsLive => DeploymentPhases.IsLive(Phase.Phase);

    private IReadOnlyDictionary<string, decimal> Caps => DeploymentPhases.CeilingPreset(Phase.Phase);

    private decimal? Account => DeploymentPhases.AccountUsd(Phase.Phase);

    protected override bool Handle(OpsEvent opsEvent) => opsEvent.Type == PhaseChanges.PhaseEvent;
}
