using Microsoft.AspNetCore.Components;

namespace Portal.Features.Audit.Pages;

public sealed partial class AuditEventView
{
    [Parameter, EditorRequired] public AuditEventDetail Event { get; set; } = null!;
}
