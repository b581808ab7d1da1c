using System.Globalization;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.Extensions.Options;
using Portal.Domain.MarketData;
using Portal.Domain.Orders;
using Portal.Domain.Risk;
using Portal.Domain.Trading;
using Portal.Features.Market;
using Portal.Features.Orders;

namespace Portal.Tests.Features.Orders;

/// <summary>
/// Bad numbers are refusals, never failures. Generated order requests with numbers at decimal's edge (28-digit and 1e27
/// prices, 1e400, negative zero, fractions beyond the symbol's decimals, exponents, strings) mixed into batches of valid
/// orders go through the parser and the pre-trade check in process: nothing throws, every refusal names its field, every
/// accepted amount fits the orders table, every figure of a decision can be recorded, and each valid order of a batch is
/// decided exactly as it is alone. 100,000 cases run here, in process, to keep ./test fast; the HTTP path gets 2,000
/// cases sent concurrently with valid orders in <see cref="OrderNumbersApiTests"/>.
/// </summary>
public sealed class OrderNumberProperties
{
    private static readonly OrderRequestParser Parser = new(new SymbolCatalog(Options.Create(new MarketOptions
    {
        Symbols = [new() { Symbol = "AAPL", QuantityDecimals = 0, PriceDecimals = 2 }, new() { Symbol = "BTC/USD", QuantityDecimals = 9, PriceDecimals = 2 }],
    })));

    /// <summary>Numbers as a client may write them, from ordinary to hostile.</summary>
    public static readonly Gen<string> Numbers = Gen.Frequency(
        (4, Gen.Choose(1, 500).Select(n => n.ToString(CultureInfo.InvariantCulture))),
        (2, Gen.Elements("9999999999999999999999999999", "1e27", "1E+27", "-0", "-0.0", "0", "0.000", "1e-30", "0.001", "0.0000000001", "1e400", "-1e400",
            "79228162514264337593543950335", "79228162514264337593543950336", "9999999999999999999.999999999", "10000000000000000000",
            "9999999999999999999", "9999999999999999999.99", "1.0000000000000000000000000001", "0.00000000000000000000000000001", "1e-28", "-5",
            "\"1e27\"", "\"9999999999999999999999999999\"", "\"-0\"", "\" 5\"", "\"5 \"", "\"0x10\"", "null", "true", "[]", "{}", "1.5", "228.505", "228.50")),
        (2, from mantissa in Gen.Choose(1, int.MaxValue)
            from digits in Gen.Choose(0, 9)
            from exponent in Gen.Choose(-40, 40)
            from negative in Gen.Elements(false, false, false, true)
            select $"{(negative ? "-" : "")}{mantissa}{(digits > 0 ? "." + new string('7', digits) : "")}e{exponent}"),
        (1, from whole in Gen.Choose(1, 40)
            from fraction in Gen.Choose(0, 12)
            select new string('9', whole) + (fraction > 0 ? "." + new string('9', fraction) : "")));

    public sealed record Request(string Json, bool Valid);

    private static readonly Gen<Request> Extreme =
        from symbol in Gen.Elements("AAPL", "BTC/USD")
        from side in Gen.Elements("buy", "sell")
        from quantity in Numbers
        from isLimit in Gen.Elements(true, false)
        from price in Numbers
        select new Request(Body(symbol, side, quantity, isLimit ? price : null), false);

    private static readonly Gen<Request> Valid =
        from side in Gen.Elements("buy", "sell")
        from quantity in Gen.Choose(1, 20)
        from isLimit in Gen.Elements(true, false)
        from cents in Gen.Choose(9_500, 10_500)
        select new Request(Body("AAPL", side, quantity.ToString(CultureInfo.InvariantCulture),
            isLimit ? (cents / 100m).ToString(CultureInfo.InvariantCulture) : null), true);

    private static readonly Gen<Request[]> Batches =
        from size in Gen.Choose(2, 12)
        from batch in Gen.ArrayOf(Gen.Frequency((3, Extreme), (1, Valid)), size)
        select batch;

    public static string Body(string symbol, string side, string quantity, string? limitPrice, string id = "c-1", string strategy = "s1") =>
        $$"""{"clientOrderId":"{{id}}","strategyId":"{{strategy}}","symbol":"{{symbol}}","side":"{{side}}","quantity":{{quantity}},""" +
        (limitPrice is null ? "\"type\":\"market\"" : $"\"type\":\"limit\",\"limitPrice\":{limitPrice}") + ",\"timeInForce\":\"day\"}";

    private static readonly RiskLimits Limits = RiskLimits.SeedDefaults;

    private static readonly PortfolioSnapshot Account = new(100_000m, 100_000m, 100_000m, 100_000m,
        new Dictionary<string, SymbolBook> { ["AAPL"] = new(10m, 0m, 0m, 100m), ["BTC/USD"] = new(0.5m, 0m, 0m, 90_000m) });

    /// <summary>A reference price per symbol, ordinary for AAPL and tiny for BTC/USD so a huge price divides by almost nothing.</summary>
    private static decimal Mark(string symbol) => symbol == "AAPL" ? 100m : 0.000000001m;

    private static RiskDecision Decide(OrderIntent order) =>
        PreTradeCheck.Evaluate(order, Account, Limits, default, Mark(order.Symbol), SymbolDataStatus.Ok, TradingMode.Active);

    [Fact]
    public void Generated_extreme_numbers_mixed_with_valid_orders_are_refused_or_decided_never_thrown()
    {
        var cases = 0;
        var refusedForNumbers = 0;
        var property = Prop.ForAll(Batches.ToArbitrary(), batch =>
        {
            foreach (var request in batch)
            {
                cases++;
                using var document = JsonDocument.Parse(request.Json);
                var (order, errors) = Parser.Parse(document.RootElement);
                if (order is null)
                {
                    if (request.Valid) throw new InvalidOperationException($"a valid order was refused: {request.Json}: {string.Join("; ", errors.Select(e => e.Key))}");
                    if (errors.Keys.Any(k => k is not ("quantity" or "limitPrice"))) throw new InvalidOperationException($"an error names another field: {request.Json}");
                    refusedForNumbers++;
                    continue;
                }
                var intent = order.Intent;
                if (!SymbolSpec.IsStorable(intent.Quantity) || intent.LimitPrice is { } p && !SymbolSpec.IsStorable(p))
                    throw new InvalidOperationException($"an amount the orders table cannot hold passed: {request.Json}");
                var decision = Decide(intent);
                if (Math.Abs(decision.Limit) > PreTradeCheck.MaxRecordableFigure || Math.Abs(decision.Actual) > PreTradeCheck.MaxRecordableFigure)
                    throw new InvalidOperationException($"a figure the orders table cannot record: {request.Json} -> {decision}");
                _ = decision.Describe();
                // The check is pure: a valid order decides the same in any batch as alone.
                if (request.Valid && Decide(intent) != decision) throw new InvalidOperationException($"a valid order decided differently: {request.Json}");
            }
            return true;
        });
        // 100,000 batches of 2 to 12 requests: well over 100,000 extreme cases.
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(100_000).WithReplay(20_261_204UL, 15UL), property);
        Assert.True(cases >= 100_000, $"cases: {cases}");
        Assert.True(refusedForNumbers > cases / 10, $"the generator must produce enough bad numbers to mean something ({refusedForNumbers} of {cases})");
    }

    [Theory]
    [InlineData("1", "9999999999999999999999999999", "limitPrice")]
    [InlineData("100000", "1e27", "limitPrice")]
    [InlineData("1", "9999999999999999999.999", "limitPrice")]
    [InlineData("1", "10000000000000000000", "limitPrice")]
    [InlineData("1", "228.505", "limitPrice")]
    [InlineData("1", "-0", "limitPrice")]
    [InlineData("1", "1e-30", "limitPrice")]
    [InlineData("10000000000000000000", null, "quantity")]
    [InlineData("9999999999999999999999999999", null, "quantity")]
    [InlineData("-0", null, "quantity")]
    [InlineData("-0.0", null, "quantity")]
    [InlineData("0.5", null, "quantity")]
    [InlineData("1e400", null, "quantity")]
    public void A_number_beyond_the_columns_or_the_symbols_decimals_is_a_400_naming_the_field(string quantity, string? limitPrice, string field)
    {
        using var document = JsonDocument.Parse(Body("AAPL", "buy", quantity, limitPrice));

        var (order, errors) = Parser.Parse(document.RootElement);

        Assert.Null(order);
        Assert.Equal([field], errors.Keys);
    }

    [Fact]
    public void The_largest_storable_amounts_parse_and_are_refused_by_a_limit_not_an_exception()
    {
        using var document = JsonDocument.Parse(Body("AAPL", "buy", "9999999999999999999", "9999999999999999999.99"));
        var (order, _) = Parser.Parse(document.RootElement);

        var decision = PreTradeCheck.Evaluate(order!.Intent, Account, Limits with { MaxOrderQuantity = decimal.MaxValue }, default, 0.01m,
            SymbolDataStatus.Ok, TradingMode.Active);

        Assert.Equal(RejectReason.NumberOutOfRange, decision.Reason);
    }
}
