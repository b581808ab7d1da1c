using FsCheck;
using FsCheck.Fluent;
using Portal.Domain.Orders;
using Portal.Domain.MarketData;
using Portal.Domain.Risk;
using Portal.Domain.Trading;

namespace Portal.Tests.Domain.Risk;

/// <summary>
/// Over random portfolios, limits and orders: an accepted order leaves every limit satisfied, judged
/// by recomputing the account from scratch with the order added as if it filled (worst case).
/// </summary>
public sealed class PreTradeCheckProperties
{
    private static readonly string[] Symbols = ["AAPL", "MSFT", "SPY", "QQQ", "NVDA"];

    public sealed record Case(PortfolioSnapshot Account, RiskLimits Limits, OrderIntent Order, decimal Price, OrderCounters Counters);

    private static Gen<decimal> Money(int min, int max) => Gen.Choose(min, max).Select(v => v / 100m);

    private static readonly Gen<(string, int, int, int, decimal)> Position =
        from symbol in Gen.Elements(Symbols)
        from quantity in Gen.Choose(-300, 300)
        from openBuy in Gen.Choose(0, 40)
        from openSell in Gen.Choose(0, 40)
        from mark in Money(100, 100_000)
        select (symbol, quantity, openBuy, openSell, mark);

    private static readonly Gen<RiskLimits> Limits =
        from orderValue in Money(1, 1_000_000)
        from orderQuantity in Gen.Choose(1, 500)
        from position in Money(1, 5_000_000)
        from positionPct in Gen.Choose(1, 100)
        from gross in Money(1, 20_000_000)
        from leverage in Gen.Choose(1, 300)
        from openPositions in Gen.Choose(1, 25)
        from perMinute in Gen.Choose(1, 12)
        from dailyLoss in Money(0, 2_000_000)
        from weeklyLoss in Money(0, 4_000_000)
        from drawdown in Gen.Choose(0, 60)
        from collar in Gen.Choose(1, 20)
        select new RiskLimits
        {
            MaxOrderValueUsd = orderValue, MaxOrderQuantity = orderQuantity, MaxPositionSizeUsd = position,
            MaxPositionPctPortfolio = positionPct / 100m, MaxTotalExposureUsd = gross, MaxLeverage = leverage / 100m,
            MaxOpenPositions = openPositions, MaxOrdersPerMinute = perMinute, MaxOrdersPerDay = 20, MaxOrdersPerMinuteGlobal = 15,
            MaxOrdersPerDayGlobal = 20, MaxDailyLossUsd = dailyLoss, MaxWeeklyLossUsd = weeklyLoss,
            MaxDrawdownPct = drawdown / 100m, PriceCollarPct = collar / 100m,
        };

    private static readonly Gen<Case> Cases =
        from positions in Gen.ListOf(Position)
        from equity in Money(-100_000, 20_000_000)
        from dayStartDelta in Money(-500_000, 500_000)
        from weekStartDelta in Money(-900_000, 900_000)
        from hwmDelta in Money(0, 2_000_000)
        from symbol in Gen.Elements(Symbols)
        from side in Gen.Elements(OrderSide.Buy, OrderSide.Sell)
        from quantity in Gen.Choose(1, 100)
        from isLimit in Gen.Elements(true, false)
        from limitOffset in Gen.Choose(-800, 800)
        from price in Money(100, 50_000)
        from limits in Limits
        from c1 in Gen.Choose(0, 10)
        from c2 in Gen.Choose(0, 10)
        from c3 in Gen.Choose(0, 10)
        from c4 in Gen.Choose(0, 10)
        let books = positions.GroupBy(p => p.Item1).ToDictionary(g => g.Key, g => new SymbolBook(g.First().Item2, g.First().Item3, g.First().Item4, g.First().Item5))
        let limitPrice = isLimit ? Math.Max(0.01m, Math.Round(price * (1m + limitOffset / 10_000m), 2)) : (decimal?)null
        select new Case(
            new PortfolioSnapshot(equity, equity + dayStartDelta, equity + weekStartDelta, Math.Max(equity, 0m) + hwmDelta, books),
            limits,
            new OrderIntent("s1", symbol, side, quantity, isLimit ? OrderType.Limit : OrderType.Market, limitPrice),
            price,
            new OrderCounters(c1, c2, c3, c4));

    [Fact]
    public void Every_accepted_order_leaves_every_limit_satisfied()
    {
        var accepted = 0;
        var property = Prop.ForAll(Cases.ToArbitrary(), c =>
        {
            var decision = PreTradeCheck.Evaluate(c.Order, c.Account, c.Limits, c.Counters, c.Price, SymbolDataStatus.Ok, TradingMode.Active);
            if (!decision.IsAccepted) return true;
            accepted++;
            return Violations(c).Count == 0;
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(20_000).WithReplay(12345UL, 67891UL), property);
        Assert.True(accepted > 500, $"the generator must produce enough accepted orders to mean something (got {accepted})");
    }

    /// <summary>An independent re-derivation of the limits, from a snapshot rebuilt with the order in it.</summary>
    private static List<string> Violations(Case c)
    {
        var (account, limits, order, price) = (c.Account, c.Limits, c.Order, c.Price);
        var problems = new List<string>();
        var orderPrice = order.LimitPrice ?? price;
        if (order.Quantity > limits.MaxOrderQuantity) problems.Add("quantity");
        if (order.Quantity * orderPrice > limits.MaxOrderValueUsd) problems.Add("value");
        if (order.LimitPrice is { } lp && Math.Abs(lp - price) / price > limits.PriceCollarPct) problems.Add("collar");
        if (c.Counters.StrategyLastMinute >= limits.MaxOrdersPerMinute || c.Counters.StrategyToday >= limits.MaxOrdersPerDay
            || c.Counters.GlobalLastMinute >= limits.MaxOrdersPerMinuteGlobal || c.Counters.GlobalToday >= limits.MaxOrdersPerDayGlobal) problems.Add("rate");

        var books = account.Books.ToDictionary(b => b.Key, b => b.Value);
        var before = books.TryGetValue(order.Symbol, out var book) ? book with { Mark = price } : new SymbolBook(0m, 0m, 0m, price);
        books[order.Symbol] = before;
        var withoutOrder = new PortfolioSnapshot(account.Equity, account.DayStartEquity, account.WeekStartEquity, account.HighWaterMark, books);
        var after = order.Side == OrderSide.Buy ? before with { OpenBuyQuantity = before.OpenBuyQuantity + order.Quantity }
            : before with { OpenSellQuantity = before.OpenSellQuantity + order.Quantity };
        books[order.Symbol] = after;
        var withOrder = new PortfolioSnapshot(account.Equity, account.DayStartEquity, account.WeekStartEquity, account.HighWaterMark, books);

        if (after.ExposureUsd <= before.ExposureUsd) return problems; // a risk-reducing order needs only the checks above
        if (account.Equity <= 0m) problems.Add("equity");
        if (account.DailyLossUsd > limits.MaxDailyLossUsd) problems.Add("daily loss");
        if (account.WeeklyLossUsd > limits.MaxWeeklyLossUsd) problems.Add("weekly loss");
        if (account.Drawdown > limits.MaxDrawdownPct) problems.Add("drawdown");
        if (after.ExposureUsd > limits.MaxPositionSizeUsd) problems.Add("position");
        if (account.Equity > 0m && after.ExposureUsd / account.Equity > limits.MaxPositionPctPortfolio) problems.Add("position share");
        if (withOrder.GrossExposureUsd > limits.MaxTotalExposureUsd) problems.Add("gross");
        if (account.Equity > 0m && withOrder.GrossExposureUsd / account.Equity > limits.MaxLeverage) problems.Add("leverage");
        if (withOrder.OpenPositionCount > limits.MaxOpenPositions && withOrder.OpenPositionCount > withoutOrder.OpenPositionCount) problems.Add("open positions");
        return problems;
    }
}
