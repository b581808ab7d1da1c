using Microsoft.Extensions.Options;
using Portal.Domain.MarketData;
using Portal.Features.Broker;
using Portal.Features.MarketData;
using Npgsql;
using Portal.Features.Risk;

namespace Portal.Features.Market;

public sealed class DemoOptions
{
    public bool Enabled { get; set; }
    public TimeSpan TickInterval { get; set; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan OrderInterval { get; set; } = TimeSpan.FromSeconds(4);
    public int Seed { get; set; } = 42;
}

/// <summary>
/// A demo market: a random walk for each configured symbol, fed through the market-data ingest like
/// any other feed (source <c>demo</c>); accepted prices reach the price book there, and through it the paper
/// broker, which fills resting limit orders that the price crosses (<see cref="RestingPaperOrderFiller"/>). Like a real feed it is one
/// stream however many instances run: only the instance holding a PostgreSQL advisory lock walks,
/// the others hear its ticks through the shared market data. When that instance dies its session
/// ends, the lock frees, and another takes over from the last valid prices (docs/market-data.md).
/// </summary>
public sealed class DemoMarket(IOptions<DemoOptions> demo, IOptions<MarketOptions> market, MarketDataIngest ingest, PriceBook prices,
    NpgsqlDataSource db, TimeProvider clock, ILogger<DemoMarket> logger)
    : BackgroundService
{
    public const string Source = "demo";
    private const decimal StepVolatility = 0.0008m;
    private const long FeederLockKey = 0x504F5254414C_03; // "PORTAL" + 3

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var random = new Random(demo.Value.Seed);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var feeder = await db.OpenConnectionAsync(stoppingToken);
                await using var tryLock = new NpgsqlCommand($"select pg_try_advisory_lock({FeederLockKey})", feeder);
                if ((bool)(await tryLock.ExecuteScalarAsync(stoppingToken))!)
                {
                    try
                    {
                        await WalkAsync(feeder, random, stoppingToken);
                    }
                    finally
                    {
                        // The pool resets a returned session only when it is next used: until then the lock would stay held.
                        if (feeder.State == System.Data.ConnectionState.Open)
                        {
                            await using var unlock = new NpgsqlCommand($"select pg_advisory_unlock({FeederLockKey})", feeder);
                            await unlock.ExecuteScalarAsync(CancellationToken.None);
                        }
                    }
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "The demo market lost its PostgreSQL session; another instance may feed the market meanwhile");
            }
            await Task.Delay(demo.Value.TickInterval, clock, stoppingToken);
        }
    }

    /// <summary>Walks while <paramref name="feeder"/>'s session (and with it the lock) lives: each round checks it first.</summary>
    private async Task WalkAsync(NpgsqlConnection feeder, Random random, CancellationToken stoppingToken)
    {
        // From the last valid prices, so a takeover continues the market instead of jumping back to the start prices.
        var levels = market.Value.Symbols.Where(s => s.DemoStartPrice > 0m)
            .ToDictionary(s => s.Symbol, s => prices.Get(s.Symbol)?.Price ?? s.DemoStartPrice);
        await using var alive = new NpgsqlCommand("select 1", feeder);
        using var timer = new PeriodicTimer(demo.Value.TickInterval, clock);
        do
        {
            await alive.ExecuteScalarAsync(stoppingToken);
            var now = clock.GetUtcNow();
            var ticks = new List<Tick>(levels.Count);
            foreach (var symbol in levels.Keys.ToList())
            {
                // Box-Muller normal step, so prices move like a (very tame) market.
                var normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                var price = Math.Round(levels[symbol] * (1m + (decimal)normal * StepVolatility), 2);
                levels[symbol] = price;
                var halfSpread = Math.Max(0.01m, Math.Round(price * 0.0002m, 2));
                ticks.Add(new Tick(symbol, price, price - halfSpread, price + halfSpread, 100m, now));
            }
            var verdicts = ingest.Ingest(ticks, Source);
            // A walk the validator refused (a z-score spike on a trending walk) restarts from the last valid price,
            // so the demo keeps feeding valid data instead of drifting on until the symbol turns suspect.
            for (var i = 0; i < ticks.Count; i++)
                if (!verdicts[i].Accepted && prices.Get(ticks[i].Symbol) is { } mark)
                    levels[ticks[i].Symbol] = mark.Price;
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
