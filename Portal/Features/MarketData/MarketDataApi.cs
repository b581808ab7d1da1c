using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Portal.Domain.MarketData;
using Portal.Features.Auth;
using Portal.Features.Halt;
using Portal.Features.Identity;
using Portal.Infrastructure.Http;

namespace Portal.Features.MarketData;

public static class MarketDataApi
{
    public static IEndpointRouteBuilder MapMarketDataApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/market-data").WithTags("MarketData").RequireAuthorization(Scopes.Policy(Scopes.Ticks));
        group.MapPost("/ticks", PostTicks);
        app.MapPost("/api/market-data/symbols/{symbol}/reset", ResetSymbol).WithTags("MarketData").RequireAuthorization(Policies.RiskOfficer);
        return app;
    }

    /// <summary>Body: <c>{"reason": "..."}</c>. Answers the symbol as it is now (Stale until its next valid tick).</summary>
    private static async Task<Results<Ok<SymbolDataView>, ValidationProblem>> ResetSymbol(string symbol, HttpRequest request, ISymbolReset reset,
        IMarketDataView view, ClaimsPrincipal user, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, ResetBodyBytes, ct);
        var reason = body.IsValid ? body.Reason() : null;
        if (!body.IsValid) return TypedResults.ValidationProblem(body.Errors, title: "The reset is not valid.");
        var errors = await reset.ResetAsync(symbol, reason!, PortalActor.Of(user), ct);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors, title: "The reset is not valid.");
        return TypedResults.Ok(view.Symbols().Single(s => s.Symbol == symbol));
    }

    private const int ResetBodyBytes = 4096;

    private static async Task<IResult> PostTicks(HttpRequest request, MarketDataIngest ingest, IOptions<MarketDataOptions> options, ClaimsPrincipal user,
        CancellationToken ct)
    {
        // Parsed straight from the request stream into pooled buffers: a batch is large, and copying it to a
        // fresh array per request would land on the large object heap and cost a full collection now and then.
        var maxBytes = options.Value.MaxBodyBytes;
        if (request.ContentLength > maxBytes) return BodyProblem($"must be at most {maxBytes} bytes.");
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = maxBytes;
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, new JsonDocumentOptions { MaxDepth = 8 }, ct);
        }
        catch (JsonException ex)
        {
            return BodyProblem($"is not valid JSON ({ex.Message}).");
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return BodyProblem($"must be at most {maxBytes} bytes.");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) return BodyProblem("must be a JSON object.");
            var (parsed, feed, errors) = TickBatchParser.Parse(document.RootElement, options.Value.MaxBatchSize);
            if (parsed is null) return TypedResults.ValidationProblem(errors, title: "The tick batch is not valid.");

            // The key names the feed; a key may carry several, told apart by "source".
            var source = user.FindFirstValue(ClaimTypes.Name)! + (feed is null ? "" : "/" + feed);
            var ticks = new List<Tick>(parsed.Count);
            foreach (var entry in parsed)
                if (entry.Refusal is null) ticks.Add(entry.Tick);
            var verdicts = ingest.Ingest(ticks, source);

            var results = new TickVerdict[parsed.Count];
            for (int i = 0, next = 0; i < parsed.Count; i++)
            {
                if (parsed[i].Refusal is { } refusal)
                {
                    results[i] = refusal;
                    ingest.RefuseUnrepresentable(parsed[i].Tick.Symbol, parsed[i].Tick.Timestamp, refusal, source);
                }
                else results[i] = verdicts[next++];
            }
            return new TickBatchReply(results);
        }
    }

    private static ValidationProblem BodyProblem(string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["body"] = [message] }, title: "The tick batch is not valid.");

    /// <summary>
    /// <c>{"accepted":N,"refused":M,"results":[{"accepted":true},{"accepted":false,"reason":"PriceJump","detail":"..."},...]}</c>,
    /// one result per tick in the order sent (an accepted tick may add <c>"anomaly"</c>), written straight to the response.
    /// </summary>
    private sealed class TickBatchReply(TickVerdict[] verdicts) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = StatusCodes.Status200OK;
            httpContext.Response.ContentType = "application/json; charset=utf-8";
            var accepted = verdicts.Count(v => v.Accepted);
            await using var json = new Utf8JsonWriter(httpContext.Response.BodyWriter);
            json.WriteStartObject();
            json.WriteNumber("accepted", accepted);
            json.WriteNumber("refused", verdicts.Length - accepted);
            json.WriteStartArray("results");
            foreach (var verdict in verdicts)
            {
                json.WriteStartObject();
                json.WriteBoolean("accepted", verdict.Accepted);
                if (!verdict.Accepted)
                {
                    json.WriteString("reason", ReasonNames[(int)verdict.Reason]);
                    json.WriteString("detail", verdict.Detail);
                }
                else if (verdict.Anomaly != TickAnomaly.None) json.WriteString("anomaly", verdict.Anomaly.ToString());
                json.WriteEndObject();
                // Hand full buffers to Kestrel as we go rather than holding the whole reply.
                if (json.BytesPending > 16 * 1024) await json.FlushAsync();
            }
            json.WriteEndArray();
            json.WriteEndObject();
            await json.FlushAsync();
        }

        private static readonly string[] ReasonNames = Enum.GetValues<TickRejectReason>().Select(r => r.ToString()).ToArray();
    }
}
