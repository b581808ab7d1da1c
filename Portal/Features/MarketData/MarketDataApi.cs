using System.Security.Claims;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using Portal.Domain.MarketData;
using Portal.Features.Auth;
using Portal.Infrastructure.Http;

namespace Portal.Features.MarketData;

public static class MarketDataApi
{
    public static IEndpointRouteBuilder MapMarketDataApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/market-data").WithTags("MarketData").RequireAuthorization(Scopes.Policy(Scopes.Ticks));
        group.MapPost("/ticks", PostTicks);
        return app;
    }

    /// <summary>The verdict on one tick, in the order the ticks were sent.</summary>
    public sealed record TickResult(
        string Symbol,
        bool Accepted,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Reason,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Detail,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Anomaly);

    public sealed record TickBatchResult(int Accepted, int Refused, IReadOnlyList<TickResult> Results);

    private static async Task<IResult> PostTicks(HttpRequest request, MarketDataIngest ingest, IOptions<MarketDataOptions> options, ClaimsPrincipal user,
        CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, options.Value.MaxBodyBytes, ct);
        if (!body.IsValid) return TypedResults.ValidationProblem(body.Errors, title: "The tick batch is not valid.");
        var (parsed, feed, errors) = TickBatchParser.Parse(body.Root, options.Value.MaxBatchSize);
        if (parsed is null) return TypedResults.ValidationProblem(errors, title: "The tick batch is not valid.");

        // The key names the feed; a key may carry several, told apart by "source".
        var source = user.FindFirstValue(ClaimTypes.Name)! + (feed is null ? "" : "/" + feed);
        var ticks = new List<Tick>(parsed.Count);
        foreach (var entry in parsed)
            if (entry.Refusal is null) ticks.Add(entry.Tick);
        var verdicts = ingest.Ingest(ticks, source);

        var results = new TickResult[parsed.Count];
        var accepted = 0;
        for (int i = 0, next = 0; i < parsed.Count; i++)
        {
            var entry = parsed[i];
            TickVerdict verdict;
            if (entry.Refusal is { } refusal)
            {
                verdict = refusal;
                ingest.RefuseUnrepresentable(entry.Tick.Symbol, entry.Tick.Timestamp, refusal, source);
            }
            else verdict = verdicts[next++];
            if (verdict.Accepted) accepted++;
            results[i] = verdict.Accepted
                ? new TickResult(entry.Tick.Symbol, true, null, null, verdict.Anomaly == TickAnomaly.None ? null : verdict.Anomaly.ToString())
                : new TickResult(entry.Tick.Symbol, false, verdict.Reason.ToString(), verdict.Detail, null);
        }
        return TypedResults.Ok(new TickBatchResult(accepted, parsed.Count - accepted, results));
    }
}
