using Portal.Domain.Audit;
using Portal.Features.Audit;
using Portal.Infrastructure.Http;

namespace Portal.Features.MarketData;

/// <summary>
/// An operator's reset of a symbol that the jump check keeps refusing after a genuine re-pricing (a split, a reopening
/// far from the last price): its history is forgotten on every instance and it is Stale until its next valid tick. A
/// RiskOfficer's decision, in the audit trail before it takes effect.
/// </summary>
public interface ISymbolReset
{
    /// <summary>Errors by field (<c>symbol</c>, <c>reason</c>); empty when the symbol was reset.</summary>
    Task<Dictionary<string, string[]>> ResetAsync(string symbol, string reason, string actor, CancellationToken ct);
}

public sealed class SymbolReset(MarketDataIngest ingest, AuditTrail audit, TimeProvider clock) : ISymbolReset
{
    public const string AuditType = "market_data.reset";

    public async Task<Dictionary<string, string[]>> ResetAsync(string symbol, string reason, string actor, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var current = ingest.Symbols().FirstOrDefault(s => s.Symbol == symbol);
        if (current is null) errors["symbol"] = ["is not one of the configured symbols."];
        reason = reason.Trim();
        if (ReasonText.Problem(reason) is { } problem) errors["reason"] = [problem];
        if (errors.Count > 0) return errors;

        ct.ThrowIfCancellationRequested();
        await audit.AppendAsync(AuditEventDraft.Create(clock.GetUtcNow(), actor, AuditType, "symbol:" + symbol,
            new { symbol, reason, status = current!.Status.ToString(), lastValidPrice = current.LastValidPrice }));
        ingest.Reset(symbol, actor);
        return errors;
    }
}
