using System.Collections.Concurrent;
using System.Net;
using FsCheck;
using FsCheck.Fluent;
using Portal.Features.Auth;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Orders;

/// <summary>
/// Numbers at decimal's edge through the HTTP API: a 400 naming the field or a limit refusal, never a 5xx (the 500 from
/// an overflow in the pre-trade check, the 503 from a numeric field overflow in the group commit). 2,000 generated
/// cases here, sent concurrently with valid orders; the 100,000-case run is in process (<see cref="OrderNumberProperties"/>).
/// </summary>
public sealed class OrderNumbersApiTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        // Rate limits out of the way of the valid orders; every other limit as configured.
        _portal = await PortalFactory.StartAsync(new Dictionary<string, string?>
        {
            ["Risk:Ceilings:MaxOrdersPerMinute"] = "100000", ["Risk:InitialLimits:MaxOrdersPerMinute"] = "100000",
            ["Risk:Ceilings:MaxOrdersPerMinuteGlobal"] = "100000", ["Risk:InitialLimits:MaxOrdersPerMinuteGlobal"] = "100000",
            ["Risk:Ceilings:MaxOrdersPerDay"] = "100000", ["Risk:InitialLimits:MaxOrdersPerDay"] = "100000",
            ["Risk:Ceilings:MaxOrdersPerDayGlobal"] = "100000", ["Risk:InitialLimits:MaxOrdersPerDayGlobal"] = "100000",
            ["ApiKeys:MaxOrdersPerMinutePerKey"] = "100000", ["ApiKeys:MaxOrdersPerDayPerKey"] = "100000",
        });
        _portal.SetPrice("AAPL", 100m);
        _client = await _portal.ClientWithKeyAsync([Scopes.Orders], ["valid", "fuzz"]);
    }

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Theory]
    [InlineData("1", "9999999999999999999999999999", HttpStatusCode.BadRequest, "limitPrice")]
    [InlineData("100000", "1e27", HttpStatusCode.BadRequest, "limitPrice")]
    [InlineData("1", "0.001", HttpStatusCode.BadRequest, "limitPrice")]
    [InlineData("1", "-0", HttpStatusCode.BadRequest, "limitPrice")]
    [InlineData("1e27", null, HttpStatusCode.BadRequest, "quantity")]
    [InlineData("-0", null, HttpStatusCode.BadRequest, "quantity")]
    [InlineData("9999999999999999999", null, HttpStatusCode.UnprocessableEntity, null)]
    [InlineData("1", "9999999999999999999.99", HttpStatusCode.UnprocessableEntity, null)]
    [InlineData("4000", "9999999999999999999.99", HttpStatusCode.UnprocessableEntity, null)]
    public async Task A_number_at_decimals_edge_is_a_400_naming_the_field_or_a_limit_refusal(string quantity, string? limitPrice, HttpStatusCode expected, string? field)
    {
        var response = await _client.PostRawAsync(OrderNumberProperties.Body("AAPL", "buy", quantity, limitPrice, "edge-" + Guid.NewGuid().ToString("N")[..8], "fuzz"));

        Assert.Equal(expected, response.StatusCode);
        var problem = await response.JsonAsync();
        if (field is not null) Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        else Assert.False(string.IsNullOrEmpty(problem.GetProperty("reason").GetString()));
    }

    /// <summary>
    /// Orders decided in one batch write the account and each position once, from the batch's net change (set-based group
    /// commit): the stored cash, quantities, average prices and realized P&amp;L must equal replaying every stored fill in order.
    /// </summary>
    [Fact]
    public async Task Concurrent_buys_and_sells_leave_the_account_and_positions_equal_to_replaying_their_fills()
    {
        _portal.SetPrice("MSFT", 400m);
        var startingCash = await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select round(cash * 100)::bigint from paper_account");
        Assert.Equal(HttpStatusCode.Created, (await _client.PostOrderAsync(OrderRequests.Market("net-open", 4m, strategyId: "valid"))).StatusCode);
        var responses = await Task.WhenAll(Enumerable.Range(0, 24).Select(i => _client.PostOrderAsync(OrderRequests.Market(
            $"net-{i}", 1 + i % 3, symbol: i % 2 == 0 ? "AAPL" : "MSFT", side: i % 3 == 0 ? "sell" : "buy", strategyId: "valid"))));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));

        var fills = new List<(string Symbol, decimal Signed, decimal Price)>();
        await using (var connection = new Npgsql.NpgsqlConnection(_portal.AppConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new Npgsql.NpgsqlCommand("select symbol, case side when 'buy' then quantity else -quantity end, price from paper_fills order by id", connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync()) fills.Add((reader.GetString(0), reader.GetDecimal(1), reader.GetDecimal(2)));
        }
        Assert.Equal(25, fills.Count);
        var books = new Dictionary<string, (decimal Quantity, decimal Avg, decimal Realized)>();
        var cash = startingCash / 100m;
        foreach (var (symbol, signed, price) in fills)
        {
            cash -= signed * price;
            var (quantity, avg, realized) = books.GetValueOrDefault(symbol);
            if (quantity != 0 && Math.Sign(quantity) != Math.Sign(signed))
                realized += Math.Min(Math.Abs(signed), Math.Abs(quantity)) * (price - avg) * Math.Sign(quantity);
            var after = quantity + signed;
            avg = quantity == 0 || Math.Sign(quantity) == Math.Sign(signed) ? (after == 0 ? 0 : (avg * quantity + price * signed) / after)
                : Math.Abs(signed) > Math.Abs(quantity) ? price : avg;
            books[symbol] = (after, avg, realized);
        }
        // PostgreSQL's round() takes a half away from zero; Math.Round's default would take it to even (an average of two
        // 4-decimal prices can end in exactly half a unit: 4002042 against 4002043 in a loaded CI run).
        static long Rounded(decimal value) => (long)Math.Round(value, MidpointRounding.AwayFromZero);
        Assert.Equal(Rounded(cash * 100), await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select round(cash * 100)::bigint from paper_account"));
        foreach (var (symbol, (quantity, avg, realized)) in books)
        {
            Assert.Equal((long)quantity, await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select quantity::bigint from paper_positions where symbol = $1", symbol));
            Assert.Equal(Rounded(avg * 10_000), await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select round(avg_price * 10000)::bigint from paper_positions where symbol = $1", symbol));
            Assert.Equal(Rounded(realized * 10_000), await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select round(realized_pnl * 10000)::bigint from paper_positions where symbol = $1", symbol));
        }
    }

    [Fact]
    public async Task Generated_extreme_numbers_sent_with_valid_orders_never_get_a_5xx_and_every_valid_order_is_accepted()
    {
        const int Extremes = 2_000, ValidOrders = 200;
        var extremes = OrderNumberProperties.Numbers.Two().Sample(Extremes, new Rnd(4_122_026UL), 10)
            .Select((n, i) => OrderNumberProperties.Body("AAPL", i % 2 == 0 ? "buy" : "sell", n.Item1, i % 3 == 0 ? null : n.Item2, $"x-{i}", "fuzz"))
            .ToList();
        // One valid order every ten extreme ones; valid orders alternate sides so the position stays near zero in any order.
        var work = new ConcurrentQueue<string>();
        for (var i = 0; i < Extremes; i++)
        {
            if (i % (Extremes / ValidOrders) == 0) work.Enqueue(OrderNumberProperties.Body("AAPL", i % 20 == 0 ? "buy" : "sell", "1", null, $"v-{i}", "valid"));
            work.Enqueue(extremes[i]);
        }
        var failures = new ConcurrentQueue<string>();
        var validAnswers = new ConcurrentDictionary<string, HttpStatusCode>();

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (work.TryDequeue(out var body))
            {
                var response = await _client.PostRawAsync(body);
                if (body.Contains("\"v-", StringComparison.Ordinal)) validAnswers[body] = response.StatusCode;
                else if ((int)response.StatusCode >= 500 || response.StatusCode is not (HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity or HttpStatusCode.Created))
                    failures.Enqueue($"{(int)response.StatusCode} {body} {await response.Content.ReadAsStringAsync()}");
            }
        })));

        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(5)));
        Assert.Equal(ValidOrders, validAnswers.Count);
        Assert.All(validAnswers, a => Assert.Equal(HttpStatusCode.Created, a.Value));
    }
}
