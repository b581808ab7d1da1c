using Portal.Domain.Orders;
using Portal.Domain.MarketData;
using Portal.Domain.Risk;
using Portal.Domain.Trading;

namespace Portal.Tests.Domain.Risk;

/// <summary>Each limit at its boundary: exactly at the limit passes, one cent (or share, or order) over fails.</summary>
public sealed class PreTradeCheckTests
{
    private static readonly RiskLimits Loose = new()
    {
        MaxOrderValueUsd = 1_000_000m, MaxOrderQuantity = 1_000_000m, MaxPositionSizeUsd = 1_000_000m, MaxPositionPctPortfolio = 1m,
        MaxTotalExposureUsd = 10_000_000m, MaxLeverage = 100m, MaxOpenPositions = 1000, MaxOrdersPerMinute = 1000, MaxOrdersPerDay = 1000,
        MaxOrdersPerMinuteGlobal = 1000, MaxOrdersPerDayGlobal = 1000, MaxDailyLossUsd = 1_000_000m, MaxWeeklyLossUsd = 1_000_000m,
        MaxDrawdownPct = 1m, PriceCollarPct = 1m,
    };

    private static PortfolioSnapshot Account(decimal equity, params (string Symbol, decimal Quantity, decimal Mark)[] positions) =>
        Account(equity, equity, equity, equity, positions);

    private static PortfolioSnapshot Account(decimal equity, decimal dayStart, decimal weekStart, decimal highWaterMark,
        params (string Symbol, decimal Quantity, decimal Mark)[] positions) =>
        new(equity, dayStart, weekStart, highWaterMark, positions.ToDictionary(p => p.Symbol, p => new SymbolBook(p.Quantity, 0m, 0m, p.Mark)));

    private static OrderIntent Buy(decimal quantity, string symbol = "AAPL") => new("s1", symbol, OrderSide.Buy, quantity, OrderType.Market, null);
    private static OrderIntent Sell(decimal quantity, string symbol = "AAPL") => new("s1", symbol, OrderSide.Sell, quantity, OrderType.Market, null);
    private static OrderIntent BuyLimit(decimal quantity, decimal price) => new("s1", "AAPL", OrderSide.Buy, quantity, OrderType.Limit, price);

    private static RiskDecision Check(OrderIntent order, PortfolioSnapshot account, RiskLimits limits, decimal? price = 100m,
        OrderCounters counters = default, TradingMode mode = TradingMode.Active, SymbolDataStatus data = SymbolDataStatus.Ok) =>
        PreTradeCheck.Evaluate(order, account, limits, counters, price, data, mode);

    private static void AssertAccepted(RiskDecision decision) => Assert.True(decision.IsAccepted, $"expected accepted, got {decision.Reason} (limit {decision.Limit}, actual {decision.Actual})");

    private static void AssertRejected(RejectReason reason, RiskDecision decision) => Assert.Equal(reason, decision.Reason);

    [Theory]
    [InlineData(SymbolDataStatus.Stale, RejectReason.DataStale)]
    [InlineData(SymbolDataStatus.Suspect, RejectReason.DataSuspect)]
    public void Stale_or_suspect_market_data_refuses_even_a_reducing_order(SymbolDataStatus data, RejectReason expected)
    {
        var account = Account(100_000m, ("AAPL", 10m, 100m));

        AssertRejected(expected, Check(Buy(1m), account, Loose, data: data));
        AssertRejected(expected, Check(Sell(1m), account, Loose, data: data));
        AssertAccepted(Check(Sell(1m), account, Loose));
        // Without any price the missing reference is the more precise reason.
        AssertRejected(RejectReason.NoReferencePrice, Check(Buy(1m), account, Loose, price: null, data: data));
    }

    [Fact]
    public void A_one_million_dollar_order_is_refused_with_MaxOrderValue()
    {
        var decision = Check(Buy(10_000m), Account(100_000m), RiskLimits.SeedDefaults);
        AssertRejected(RejectReason.MaxOrderQuantity, decision);
        decision = Check(Buy(1_000m), Account(100_000m), RiskLimits.SeedDefaults, price: 1_000m);
        AssertRejected(RejectReason.MaxOrderValue, decision);
        Assert.Equal(5_000m, decision.Limit);
        Assert.Equal(1_000_000m, decision.Actual);
    }

    [Fact]
    public void Order_value_boundary()
    {
        var limits = Loose with { MaxOrderValueUsd = 5_000m };
        AssertAccepted(Check(BuyLimit(1m, 5_000.00m), Account(1_000_000m), limits, price: 5_000m));
        AssertRejected(RejectReason.MaxOrderValue, Check(BuyLimit(1m, 5_000.01m), Account(1_000_000m), limits, price: 5_000m));
    }

    /// <summary>
    /// A sell limit below the market fills at about the market, not at its limit: valued at its limit it passed the order
    /// value limit by up to the price collar. A buy limit pays at most its limit, so it is valued there.
    /// </summary>
    [Fact]
    public void A_sell_limit_below_the_market_is_valued_at_the_market_and_one_above_at_its_limit()
    {
        var limits = Loose with { MaxOrderValueUsd = 5_000m, PriceCollarPct = 0.05m };
        var account = Account(1_000_000m, ("AAPL", 100m, 100m));
        OrderIntent SellLimit(decimal quantity, decimal price) => new("s1", "AAPL", OrderSide.Sell, quantity, OrderType.Limit, price);

        AssertAccepted(Check(SellLimit(50m, 95m), account, limits));
        var below = Check(SellLimit(51m, 95m), account, limits);
        AssertRejected(RejectReason.MaxOrderValue, below);
        Assert.Equal(5_100m, below.Actual);
        AssertAccepted(Check(SellLimit(47m, 105m), account, limits));
        AssertRejected(RejectReason.MaxOrderValue, Check(SellLimit(48m, 105m), account, limits));
        AssertAccepted(Check(BuyLimit(52m, 95m), account, limits));
    }

    [Fact]
    public void Order_quantity_boundary()
    {
        var limits = Loose with { MaxOrderQuantity = 1_000m };
        AssertAccepted(Check(Buy(1_000m), Account(1_000_000m), limits, price: 1m));
        AssertRejected(RejectReason.MaxOrderQuantity, Check(Buy(1_001m), Account(1_000_000m), limits, price: 1m));
    }

    [Fact]
    public void Position_size_boundary_counts_the_existing_position()
    {
        var account = Account(1_000_000m, ("AAPL", 50m, 100m));
        AssertAccepted(Check(Buy(50m), account, Loose with { MaxPositionSizeUsd = 10_000m }));
        AssertRejected(RejectReason.MaxPositionSize, Check(Buy(50m), account, Loose with { MaxPositionSizeUsd = 9_999.99m }));
    }

    [Fact]
    public void Position_size_counts_working_orders()
    {
        var account = new PortfolioSnapshot(1_000_000m, 1_000_000m, 1_000_000m, 1_000_000m,
            new Dictionary<string, SymbolBook> { ["AAPL"] = new(0m, 60m, 0m, 100m) });
        var decision = Check(Buy(50m), account, Loose with { MaxPositionSizeUsd = 10_000m });
        AssertRejected(RejectReason.MaxPositionSize, decision);
        Assert.Equal(11_000m, decision.Actual);
    }

    [Fact]
    public void Position_share_of_equity_boundary()
    {
        var limits = Loose with { MaxPositionPctPortfolio = 0.10m };
        AssertAccepted(Check(Buy(100m), Account(100_000m), limits));
        AssertRejected(RejectReason.MaxPositionPctPortfolio, Check(Buy(100m), Account(99_999.99m), limits));
    }

    [Fact]
    public void Gross_exposure_boundary()
    {
        var account = Account(1_000_000m, ("MSFT", 400m, 100m));
        AssertAccepted(Check(Buy(100m), account, Loose with { MaxTotalExposureUsd = 50_000m }));
        AssertRejected(RejectReason.MaxTotalExposure, Check(Buy(100m), account, Loose with { MaxTotalExposureUsd = 49_999.99m }));
    }

    [Fact]
    public void Leverage_boundary()
    {
        var limits = Loose with { MaxLeverage = 1.0m };
        AssertAccepted(Check(Buy(100m), Account(50_000m, ("MSFT", 400m, 100m)), limits));
        AssertRejected(RejectReason.MaxLeverage, Check(Buy(100m), Account(49_999.99m, ("MSFT", 400m, 100m)), limits));
    }

    [Fact]
    public void Open_positions_boundary()
    {
        var limits = Loose with { MaxOpenPositions = 20 };
        var nineteen = Enumerable.Range(0, 19).Select(i => ($"S{i}", 1m, 10m)).ToArray();
        var twenty = Enumerable.Range(0, 20).Select(i => ($"S{i}", 1m, 10m)).ToArray();
        AssertAccepted(Check(Buy(1m), Account(1_000_000m, nineteen), limits));
        AssertRejected(RejectReason.MaxOpenPositions, Check(Buy(1m), Account(1_000_000m, twenty), limits));
        // Adding to an existing position does not open a new one.
        AssertAccepted(Check(Buy(1m, "S0"), Account(1_000_000m, twenty), limits));
    }

    [Theory]
    [InlineData(4, 0, 0, 0, RejectReason.None)]
    [InlineData(5, 0, 0, 0, RejectReason.MaxOrdersPerMinute)]
    [InlineData(0, 99, 0, 0, RejectReason.None)]
    [InlineData(0, 100, 0, 0, RejectReason.MaxOrdersPerDay)]
    [InlineData(0, 0, 9, 0, RejectReason.None)]
    [InlineData(0, 0, 10, 0, RejectReason.MaxOrdersPerMinuteGlobal)]
    [InlineData(0, 0, 0, 199, RejectReason.None)]
    [InlineData(0, 0, 0, 200, RejectReason.MaxOrdersPerDayGlobal)]
    public void Rate_boundaries(long strategyMinute, long strategyDay, long globalMinute, long globalDay, RejectReason expected)
    {
        var limits = Loose with { MaxOrdersPerMinute = 5, MaxOrdersPerDay = 100, MaxOrdersPerMinuteGlobal = 10, MaxOrdersPerDayGlobal = 200 };
        var decision = Check(Buy(1m), Account(1_000_000m), limits, counters: new OrderCounters(strategyMinute, strategyDay, globalMinute, globalDay));
        Assert.Equal(expected, decision.Reason);
    }

    [Fact]
    public void Daily_loss_boundary_and_reducing_orders_still_pass()
    {
        var limits = Loose with { MaxDailyLossUsd = 2_000m };
        AssertAccepted(Check(Buy(1m), Account(100_000m, 102_000m, 102_000m, 102_000m), limits));
        var breached = Account(99_999.99m, 102_000m, 102_000m, 102_000m, ("AAPL", 10m, 100m));
        AssertRejected(RejectReason.MaxDailyLoss, Check(Buy(1m), breached, limits));
        AssertAccepted(Check(Sell(10m), breached, limits));
    }

    [Fact]
    public void Weekly_loss_boundary()
    {
        var limits = Loose with { MaxWeeklyLossUsd = 5_000m };
        AssertAccepted(Check(Buy(1m), Account(100_000m, 100_000m, 105_000m, 105_000m), limits));
        AssertRejected(RejectReason.MaxWeeklyLoss, Check(Buy(1m), Account(99_999.99m, 100_000m, 105_000m, 105_000m), limits));
    }

    [Fact]
    public void Drawdown_boundary()
    {
        var limits = Loose with { MaxDrawdownPct = 0.15m };
        AssertAccepted(Check(Buy(1m), Account(85_000m, 85_000m, 85_000m, 100_000m), limits));
        AssertRejected(RejectReason.MaxDrawdown, Check(Buy(1m), Account(84_999.99m, 85_000m, 85_000m, 100_000m), limits));
    }

    [Fact]
    public void Price_collar_boundary_on_both_sides()
    {
        var limits = Loose with { PriceCollarPct = 0.05m };
        AssertAccepted(Check(BuyLimit(1m, 105.00m), Account(1_000_000m), limits));
        AssertRejected(RejectReason.PriceCollar, Check(BuyLimit(1m, 105.01m), Account(1_000_000m), limits));
        AssertAccepted(Check(BuyLimit(1m, 95.00m), Account(1_000_000m), limits));
        AssertRejected(RejectReason.PriceCollar, Check(BuyLimit(1m, 94.99m), Account(1_000_000m), limits));
    }

    [Fact]
    public void No_reference_price_means_refusal()
    {
        AssertRejected(RejectReason.NoReferencePrice, Check(Buy(1m), Account(100_000m), Loose, price: null));
        AssertRejected(RejectReason.NoReferencePrice, Check(Buy(1m), Account(100_000m), Loose, price: 0m));
    }

    [Fact]
    public void A_reducing_order_passes_size_checks_that_the_position_already_breaks()
    {
        // A 20,000 position against a 10,000 limit (the limit was lowered after it was built).
        var account = Account(1_000_000m, ("AAPL", 200m, 100m));
        var limits = Loose with { MaxPositionSizeUsd = 10_000m, MaxTotalExposureUsd = 10_000m };
        AssertAccepted(Check(Sell(50m), account, limits));
        AssertRejected(RejectReason.MaxPositionSize, Check(Buy(1m), account, limits));
        // Selling through zero into a larger short adds risk again.
        AssertRejected(RejectReason.MaxPositionSize, Check(Sell(500m), account, limits));
    }

    [Fact]
    public void Halted_refuses_everything_and_reduce_only_refuses_new_risk()
    {
        var account = Account(100_000m, ("AAPL", 10m, 100m));
        AssertRejected(RejectReason.TradingHalted, Check(Sell(1m), account, Loose, mode: TradingMode.Halted));
        AssertAccepted(Check(Sell(10m), account, Loose, mode: TradingMode.ReduceOnly));
        AssertRejected(RejectReason.ReduceOnly, Check(Buy(1m), account, Loose, mode: TradingMode.ReduceOnly));
        AssertRejected(RejectReason.ReduceOnly, Check(Sell(11m), account, Loose, mode: TradingMode.ReduceOnly));
        AssertRejected(RejectReason.ReduceOnly, Check(Buy(1m, "MSFT"), account, Loose, mode: TradingMode.ReduceOnly));
    }

    [Fact]
    public void Non_positive_equity_refuses_new_risk()
    {
        AssertRejected(RejectReason.NonPositiveEquity, Check(Buy(1m), Account(0m), Loose));
    }
}
