using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Portal.Features.Auth;
using Portal.Features.ModelDrift;
using Portal.Tests.Features.ModelDrift;

namespace Portal.Tests.Infrastructure;

/// <summary>
/// Activity that makes the seed's labelled data_* and model_* series appear on /metrics (a labelled series has no
/// sample, and so no line, until something is counted under a label).
/// </summary>
internal static class SeedSeriesActivity
{
    /// <summary>One valid tick and one refused for its price.</summary>
    public static async Task PostTicksAsync(PortalFactory portal)
    {
        using var feed = await portal.ClientWithScopesAsync(Scopes.Ticks);
        var now = portal.Get<TimeProvider>().GetUtcNow();
        var ticks = new JsonObject
        {
            ["ticks"] = new JsonArray(
                new JsonObject { ["symbol"] = "MSFT", ["price"] = 400m, ["timestamp"] = now.AddMilliseconds(-200).ToString("O") },
                new JsonObject { ["symbol"] = "MSFT", ["price"] = 0.01m, ["timestamp"] = now.AddMilliseconds(-100).ToString("O") }),
        };
        Assert.Equal(HttpStatusCode.OK, (await feed.PostAsJsonAsync("/api/market-data/ticks", ticks)).StatusCode);
    }

    /// <summary>A baseline around 0 and a current window shifted far away: the check scores a D near 1.</summary>
    public static async Task PostObservationsAndCheckDriftAsync(PortalFactory portal)
    {
        using var model = await portal.ClientWithScopesAsync(Scopes.Observations);
        var now = portal.Get<TimeProvider>().GetUtcNow();
        var random = new Random(7);
        await model.PostAllAsync(ObservationBatches.Normals(random, "metrics-model", 100, now.AddHours(-3)));
        var pinned = await portal.Get<ModelDriftService>().PinBaselineAsync(
            new BaselineRequest("metrics-model", "v1", null, null, 100, "metrics test"), "officer@test.local", CancellationToken.None);
        Assert.NotNull(pinned.Baseline);
        await model.PostAllAsync(ObservationBatches.Normals(random, "metrics-model", 100, now.AddMinutes(-61), shiftOfA: 10));
        Assert.Equal(DriftCheckStatus.Completed, (await portal.Get<ModelDriftService>().CheckAsync("metrics-model", "test", CancellationToken.None)).Status);
    }
}
