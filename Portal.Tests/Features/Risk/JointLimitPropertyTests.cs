using Npgsql;
using Portal.Domain.Orders;
using Portal.Features.Halt;
using Portal.Features.Limits;
using Portal.Features.Orders;
using Portal.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Portal.Tests.Features.Risk;

/// <summary>
/// Seeded random interleavings of orders over two instances on one Postgres and Redis: orders that each fit a limit alone
/// but not together, sent concurrently or one after another, to either instance. Whatever the interleaving, the joint
/// state in Postgres is never beyond a limit: position $, position %, gross exposure, leverage, open positions (resting
/// limit orders: the equity stays put, so the bound is exact) and daily loss (market orders: each fill's slippage is a
/// loss, and no order adding risk is accepted once the loss before it is beyond the limit).
/// </summary>
public sealed class JointLimitPropertyTests(ITestOutputHelper output)
{
    private const int Cases = 1_000;
    private static readonly string[] Symbols = ["AAPL", "MSFT", "NVDA"];
    private static readonly decimal[] Prices = [100m, 200m, 50m];

    private static readonly Dictionary<string, string?> Limits = new()
    {
        ["Risk:Ceilings:MaxOrdersPerMinute"] = "100000000", ["Risk:InitialLimits:MaxOrdersPerMinute"] = "100000000",
        ["Risk:Ceilings:MaxOrdersPerMinuteGlobal"] = "100000000", ["Risk:InitialLimits:MaxOrdersPerMinuteGlobal"] = "100000000",
        ["Risk:Ceilings:MaxOrdersPerDay"] = "1000000000", ["Risk:InitialLimits:MaxOrdersPerDay"] = "1000000000",
        ["Risk:Ceilings:MaxOrdersPerDayGlobal"] = "1000000000", ["Risk:InitialLimits:MaxOrdersPerDayGlobal"] = "1000000000",
        ["Risk:InitialLimits:MaxOrderValueUsd"] = "5000",
        ["Risk:InitialLimits:MaxPositionSizeUsd"] = "6000",
        ["Risk:InitialLimits:MaxPositionPctPortfolio"] = "0.08",
        ["Risk:InitialLimits:MaxTotalExposureUsd"] = "9000",
        ["Risk:InitialLimits:MaxLeverage"] = "0.15",
        ["Risk:InitialLimits:MaxOpenPositions"] = "2",
        ["Risk:InitialLimits:MaxDailyLossUsd"] = "100",
        ["Risk:InitialLimits:MaxWeeklyLossUsd"] = "10000",
        ["Risk:Ceilings:MaxDrawdownPct"] = "1", ["Risk:InitialLimits:MaxDrawdownPct"] = "1",
        ["Risk:InitialLimits:PriceCollarPct"] = "0.05",
    };

    [Fact]
    public async Task No_interleaving_of_orders_on_two_instances_takes_the_joint_book_beyond_a_limit()
    {
        // Each case rewrites the cash and the day's start equity under the running instances, and loss cases go beyond the
        // daily loss limit on purpose: the automatic loss halt (tested on its own) would rightly halt every later case.
        await using var a = await PortalFactory.StartAsync(Limits, configure: PortalFactory.WithoutBackgroundService<AutoHaltMonitor>);
        await using var b = await a.StartPeerAsync();
        await b.Get<LimitStore>().LoadAsync(CancellationToken.None);
        for (var i = 0; i < Symbols.Length; i++)
        {
            a.SetPrice(Symbols[i], Prices[i]);
            b.SetPrice(Symbols[i], Prices[i]);
        }
        var limits = a.Get<LimitStore>().Current!.Limits;
        var gateways = new[] { a.Get<OrderGateway>(), b.Get<OrderGateway>() };
        var today = a.Get<TradingCalendar>().TradingDate(a.Get<TimeProvider>().GetUtcNow());
        await using var owner = new NpgsqlConnection(a.OwnerConnectionString);
        await owner.OpenAsync();
        var random = new Random(20261204);
        var accepted = 0;
        var refusedByLimit = new Dictionary<string, int>();

        for (var n = 0; n < Cases; n++)
        {
            var lossCase = random.Next(4) == 0;
            var cash = (decimal)random.Next(40_000, 150_000);
            // A daily-loss case starts just inside the limit; a loss of a few dollars more is beyond it.
            var dayStart = lossCase ? cash + limits.MaxDailyLossUsd - random.Next(0, 4) : cash;
            await ResetAsync(owner, cash, dayStart, today);

            var orders = Enumerable.Range(0, random.Next(2, 6)).Select(i =>
            {
                var s = random.Next(Symbols.Length);
                // $500 to $4,000 an order at each symbol's price.
                var quantity = (decimal)(s == 1 ? random.Next(3, 21) : s == 2 ? random.Next(10, 81) : random.Next(5, 41));
                var side = lossCase || random.Next(3) > 0 ? OrderSide.Buy : OrderSide.Sell;
                // Resting: inside the collar, on the side of the market that does not fill.
                var limit = side == OrderSide.Buy ? Prices[s] * 0.98m : Prices[s] * 1.02m;
                var intent = lossCase
                    ? new OrderIntent("prop", Symbols[s], side, quantity, OrderType.Market, null)
                    : new OrderIntent("prop", Symbols[s], side, quantity, OrderType.Limit, limit);
                return (Gateway: gateways[random.Next(2)], Order: new ParsedOrder($"p{n}-{i}", intent, TimeInForce.Day));
            }).ToList();
            var outcomes = random.Next(2) == 0
                ? await Task.WhenAll(orders.Select(o => Task.Run(() => o.Gateway.SubmitAsync(o.Order, "property", senderMayTradeStrategy: true, CancellationToken.None))))
                : await SequentialAsync(orders);
            foreach (var outcome in outcomes)
            {
                Assert.Equal(OutcomeKind.Decided, outcome.Kind);
                if (outcome.Row!.Decision == "accepted") accepted++;
                else refusedByLimit[outcome.Row.Reason!] = refusedByLimit.GetValueOrDefault(outcome.Row.Reason!) + 1;
            }
            if (lossCase) await AssertNoRiskAcceptedBeyondDailyLossAsync(owner, dayStart, cash, limits.MaxDailyLossUsd, n);
            else await AssertExposureWithinLimitsAsync(owner, cash, limits, n);
        }
        output.WriteLine($"{Cases} cases: {accepted} accepted; refused: {string.Join(", ", refusedByLimit.Select(r => $"{r.Key} {r.Value}"))}");
        foreach (var reason in new[] { "MaxPositionSize", "MaxPositionPctPortfolio", "MaxTotalExposure", "MaxLeverage", "MaxOpenPositions", "MaxDailyLoss" })
            Assert.True(refusedByLimit.GetValueOrDefault(reason) > 0, $"no case reached {reason}");

        async Task<OrderOutcome[]> SequentialAsync(List<(OrderGateway Gateway, ParsedOrder Order)> orders)
        {
            var outcomes = new List<OrderOutcome>();
            foreach (var (gateway, order) in orders) outcomes.Add(await gateway.SubmitAsync(order, "property", senderMayTradeStrategy: true, CancellationToken.None));
            return [.. outcomes];
        }
    }

    private static async Task ResetAsync(NpgsqlConnection owner, decimal cash, decimal dayStart, DateOnly today)
    {
        await using var batch = new NpgsqlBatch(owner)
        {
            BatchCommands =
            {
                new("truncate paper_fills, paper_orders, paper_positions, orders"),
                new("update paper_account set cash = $1 where id = 1") { Parameters = { new() { Value = cash } } },
                new("delete from equity_marks where trading_date <> $1") { Parameters = { new() { Value = today } } },
                new("""
                    insert into equity_marks (trading_date, start_equity, high_water_mark, updated_at) values ($1, $2, $2, now())
                    on conflict (trading_date) do update set start_equity = $2, high_water_mark = $2
                    """) { Parameters = { new() { Value = today }, new() { Value = dayStart } } },
            },
        };
        // The instances' background reads of the paper tables may hold a lock the truncate needs: the reset is then the deadlock victim.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await batch.ExecuteNonQueryAsync();
                return;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DeadlockDetected && attempt < 10)
            {
            }
        }
    }

    /// <summary>Positions plus resting orders at the case's prices, against every exposure limit; the equity is the case's cash.</summary>
    private static async Task AssertExposureWithinLimitsAsync(NpgsqlConnection owner, decimal equity, Portal.Domain.Risk.RiskLimits limits, int n)
    {
        var books = Symbols.ToDictionary(s => s, _ => (Position: 0m, Buy: 0m, Sell: 0m));
        await using (var command = new NpgsqlCommand("select symbol, quantity from paper_positions", owner))
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync()) books[reader.GetString(0)] = books[reader.GetString(0)] with { Position = reader.GetDecimal(1) };
        await using (var command = new NpgsqlCommand($"select symbol, side, quantity - filled_quantity from orders where decision = 'accepted' and status in {OrderStore.WorkingStatuses}", owner))
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync())
            {
                var book = books[reader.GetString(0)];
                books[reader.GetString(0)] = reader.GetString(1) == "buy" ? book with { Buy = book.Buy + reader.GetDecimal(2) } : book with { Sell = book.Sell + reader.GetDecimal(2) };
            }
        var gross = 0m;
        var open = 0;
        for (var i = 0; i < Symbols.Length; i++)
        {
            var (position, buy, sell) = books[Symbols[i]];
            var value = Math.Max(Math.Abs(position + buy), Math.Abs(position - sell)) * Prices[i];
            Assert.True(value <= limits.MaxPositionSizeUsd, $"case {n}: {Symbols[i]} ${value} > MaxPositionSizeUsd");
            Assert.True(value / equity <= limits.MaxPositionPctPortfolio, $"case {n}: {Symbols[i]} {value / equity:P2} of ${equity} > MaxPositionPctPortfolio");
            gross += value;
            if (value != 0m) open++;
        }
        Assert.True(gross <= limits.MaxTotalExposureUsd, $"case {n}: gross ${gross} > MaxTotalExposureUsd");
        Assert.True(gross / equity <= limits.MaxLeverage, $"case {n}: leverage {gross / equity} > MaxLeverage");
        Assert.True(open <= limits.MaxOpenPositions, $"case {n}: {open} open positions > MaxOpenPositions");
    }

    /// <summary>Replays the fills in commit order: before each, the day's loss was within the limit (every buy here adds risk).</summary>
    private static async Task AssertNoRiskAcceptedBeyondDailyLossAsync(NpgsqlConnection owner, decimal dayStart, decimal cash, decimal maxLoss, int n)
    {
        var loss = dayStart - cash;
        await using var command = new NpgsqlCommand("select symbol, quantity, price from paper_fills order by id", owner);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            Assert.True(loss <= maxLoss, $"case {n}: an order was filled with the day's loss at ${loss} beyond MaxDailyLossUsd ${maxLoss}");
            var mark = Prices[Array.IndexOf(Symbols, reader.GetString(0))];
            loss += reader.GetDecimal(1) * (reader.GetDecimal(2) - mark);
        }
    }
}
