using Microsoft.Extensions.Options;
using Portal.Features.Market;
using Portal.Features.ModelDrift;

namespace Portal.Features.Demo;

/// <summary><c>Demo:ModelFeed:*</c>: the demo model's cadence and when its input shifts.</summary>
public sealed class DemoModelFeedOptions
{
    public const string Section = "Demo:ModelFeed";

    public bool Enabled { get; set; } = true;
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);
    public int BatchSize { get; set; } = 10;
    /// <summary>After this long, one feature (spread_bps) moves up: the drift the page should show.</summary>
    public TimeSpan ShiftAfter { get; set; } = TimeSpan.FromMinutes(3);
    public TimeSpan FirstCheckAfter { get; set; } = TimeSpan.FromMinutes(2);
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromMinutes(5);
}

public sealed class DemoModelFeedOptionsValidator : IValidateOptions<DemoModelFeedOptions>
{
    public ValidateOptionsResult Validate(string? name, DemoModelFeedOptions o)
    {
        const string s = DemoModelFeedOptions.Section;
        var errors = new List<string>();
        if (o.Interval < TimeSpan.FromMilliseconds(100)) errors.Add($"{s}:Interval must be at least 00:00:00.1.");
        if (o.BatchSize is < 1 or > 1000) errors.Add($"{s}:BatchSize must be between 1 and 1000.");
        if (o.ShiftAfter < TimeSpan.Zero) errors.Add($"{s}:ShiftAfter must not be negative.");
        if (o.FirstCheckAfter < TimeSpan.Zero) errors.Add($"{s}:FirstCheckAfter must not be negative.");
        if (o.CheckInterval < TimeSpan.FromMinutes(1)) errors.Add($"{s}:CheckInterval must be at least 00:01:00.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>
/// A demo model posting observations through the same ingest as <c>POST /api/model/observations</c> (after parsing): five
/// features, a prediction and its confidence. On first start it back-fills an hour of history and pins its first
/// <see cref="BaselineSize"/> observations as the baseline; after <see cref="DemoModelFeedOptions.ShiftAfter"/> one feature
/// drifts, and the feed runs a drift check now and then so the drift page shows real runs.
/// </summary>
public sealed class DemoModelFeed(
    ObservationStore observations, ModelDriftStore driftStore, ModelDriftService drift, IOptions<DemoModelFeedOptions> options, IOptions<DemoOptions> demo,
    TimeProvider clock, ILogger<DemoModelFeed> logger) : BackgroundService
{
    public const string ModelId = "demo-momentum-model";
    public const string ModelVersion = "v1";
    public const int BaselineSize = 2_000;
    private const string Actor = "demo-model-feed";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var random = new Random(demo.Value.Seed + 2);
        var started = clock.GetUtcNow();
        try
        {
            if (await driftStore.BaselineAsync(ModelId, stoppingToken) is null) await SeedBaselineAsync(random, started, stoppingToken);
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "Demo model baseline not seeded");
        }

        var nextCheck = started + o.FirstCheckAfter;
        using var timer = new PeriodicTimer(o.Interval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var now = clock.GetUtcNow();
            var shifted = now - started >= o.ShiftAfter;
            try
            {
                await IngestAsync(Enumerable.Range(0, o.BatchSize).Select(_ => Observation(random, now, shifted)).ToList(), stoppingToken);
                if (now >= nextCheck)
                {
                    var outcome = await drift.CheckAsync(ModelId, Actor, stoppingToken);
                    // Too few observations yet (e.g. right after start): try again soon rather than a whole interval later.
                    nextCheck = now + (outcome.Status == DriftCheckStatus.Completed ? o.CheckInterval : o.FirstCheckAfter);
                    logger.LogInformation("Demo model drift check: {Detail}", outcome.Detail);
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Demo model feed failed");
            }
        }
    }

    private async Task SeedBaselineAsync(Random random, DateTimeOffset now, CancellationToken ct)
    {
        // An hour of history ending an hour ago: the baseline, older than anything the live feed posts.
        var start = now.AddHours(-2);
        var step = TimeSpan.FromHours(1) / BaselineSize;
        await IngestAsync(Enumerable.Range(0, BaselineSize).Select(i => Observation(random, start + step * i, shifted: false)).ToList(), ct);
        var outcome = await drift.PinBaselineAsync(new BaselineRequest(ModelId, ModelVersion, null, null, BaselineSize,
            "Demo: the model's first observations, pinned at start-up"), Actor, ct);
        logger.LogInformation("Demo model baseline pinned: {Baseline}", outcome.Baseline?.Describe() ?? string.Join("; ", outcome.Errors.Select(e => e.Key + " " + e.Value[0])));
    }

    private async Task IngestAsync(List<ModelObservation> batch, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        await observations.IngestAsync(batch, errors, ct);
        if (errors.Count > 0) throw new InvalidOperationException("Demo observations refused: " + string.Join("; ", errors.Select(e => e.Key + " " + e.Value[0])));
    }

    private static ModelObservation Observation(Random random, DateTimeOffset at, bool shifted)
    {
        var momentum = Normal(random);
        var imbalance = 0.3 * Normal(random);
        var features = new Dictionary<string, double>
        {
            ["return_5m"] = momentum,
            ["volume_z"] = Normal(random),
            ["spread_bps"] = 2 + Math.Abs(Normal(random)) + (shifted ? 0.4 : 0.0),
            ["rsi_14"] = Math.Clamp(50 + 15 * Normal(random), 0, 100),
            ["order_imbalance"] = imbalance,
        };
        var prediction = 0.3 * momentum + 0.5 * imbalance + 0.2 * Normal(random);
        var confidence = 1 / (1 + Math.Exp(-2 * Math.Abs(prediction)));
        return new ModelObservation(ModelId, ModelVersion, at, features, prediction, confidence);
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
