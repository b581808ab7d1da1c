using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Portal.Tests.Features.ModelDrift;

/// <summary>Observation batches as clients post them, with seeded normal features.</summary>
internal static class ObservationBatches
{
    public static JsonObject Observation(string modelId, DateTimeOffset at, IReadOnlyDictionary<string, double> features,
        double prediction = 0.2, double confidence = 0.7, string version = "v1")
    {
        var featureObject = new JsonObject();
        foreach (var (name, value) in features) featureObject[name] = value;
        return new JsonObject
        {
            ["modelId"] = modelId,
            ["modelVersion"] = version,
            ["timestamp"] = at.ToString("O", CultureInfo.InvariantCulture),
            ["features"] = featureObject,
            ["prediction"] = prediction,
            ["confidence"] = confidence,
        };
    }

    public static JsonObject Batch(IEnumerable<JsonObject> observations) => new() { ["observations"] = new JsonArray([.. observations]) };

    /// <summary>
    /// <paramref name="count"/> observations evenly spaced from <paramref name="from"/> over one hour: features a and b ~ N(mean, 1),
    /// prediction ~ N(0, 1), confidence ~ U(0.5, 1); <paramref name="shiftOfA"/> moves only a.
    /// </summary>
    public static IEnumerable<JsonObject> Normals(Random random, string modelId, int count, DateTimeOffset from, double shiftOfA = 0)
    {
        for (var i = 0; i < count; i++)
            yield return Observation(modelId, from + TimeSpan.FromHours(1) * i / count,
                new Dictionary<string, double> { ["a"] = shiftOfA + Normal(random), ["b"] = Normal(random) },
                prediction: Normal(random), confidence: 0.5 + 0.5 * random.NextDouble());
    }

    public static async Task PostAllAsync(this HttpClient client, IEnumerable<JsonObject> observations)
    {
        foreach (var chunk in observations.Chunk(1000))
        {
            var response = await client.PostAsJsonAsync("/api/model/observations", Batch(chunk));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    public static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
