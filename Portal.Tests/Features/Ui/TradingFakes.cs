using Portal.Domain.Trading;
using Portal.Features.Audit;
using Portal.Features.Halt;

namespace Portal.Tests.Features.Ui;

/// <summary>Names of actor ids, as the directory of people and keys would answer; counts its look-ups.</summary>
internal sealed class FakeActorNames : IActorNames
{
    public Dictionary<string, string> Names { get; } = new(StringComparer.Ordinal);
    public List<string[]> LookUps { get; } = [];

    public Task<IReadOnlyDictionary<string, string>> NamesAsync(IEnumerable<string> actors, CancellationToken ct)
    {
        var asked = actors.ToArray();
        LookUps.Add(asked);
        return Task.FromResult<IReadOnlyDictionary<string, string>>(asked.Where(Names.ContainsKey).Distinct().ToDictionary(a => a, a => Names[a]));
    }
}

/// <summary>Halt commands where only the pending resume requests matter (settable); everything else is not expected.</summary>
internal sealed class PendingResumeCommands : IHaltCommands
{
    public List<ResumeRequestView> Pending { get; } = [];

    public static ResumeRequestView Request(string requestedBy, DateTimeOffset at, string scope = "global") =>
        new(Guid.NewGuid(), scope, "active", "all clear", requestedBy, at, 3, at.AddHours(1));

    public Task<IReadOnlyList<ResumeRequestView>> PendingResumesAsync() => Task.FromResult<IReadOnlyList<ResumeRequestView>>([.. Pending]);
    public Task<HaltResult> HaltAsync(string reason, HaltMode mode, string? strategyId, string actor) => throw new NotSupportedException();
    public Task<HaltEffect> PreviewAsync(string? strategyId) => throw new NotSupportedException();
    public Task<IReadOnlyList<string>> StrategiesAsync() => Task.FromResult<IReadOnlyList<string>>([]);
    public Task<ResumeOutcome> RequestResumeAsync(string reason, string? strategyId, TradingMode target, string actor) => throw new NotSupportedException();
    public Task<ResumeOutcome> ApproveResumeAsync(Guid requestId, string approver) => throw new NotSupportedException();
    public Task<ResumeOutcome> RejectResumeAsync(Guid requestId, string actor) => throw new NotSupportedException();
}
