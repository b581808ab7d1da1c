using BenchmarkDotNet.Attributes;
using Portal.Domain.Orders;
using Portal.Domain.MarketData;
using Portal.Domain.Risk;
using Portal.Domain.Trading;

namespace Portal.Bench;

/// <summary>
/// <see cref="PreTradeCheck.Evaluate"/> on the realistic account of <see cref="Scenario"/>: one
/// benchmark per decision path, plus all eight paths in turn (so branch prediction cannot learn a
/// single path). The Allocated column must read "-" (zero bytes per decision).
/// </summary>
[MemoryDiagnoser]
public class PreTradeCheckBenchmarks
{
    private PortfolioSnapshot _portfolio = null!;
    private RiskLimits _limits = null!;

    /// <summary>A <see cref="Scenario.Case.Id"/>; <c>--quick</c> prints the long names.</summary>
    [ParamsSource(nameof(CaseNames))]
    public string Case { get; set; } = "";

    public static IEnumerable<string> CaseNames() => Scenario.Cases.Select(c => c.Id);

    private OrderIntent _order;
    private decimal _price;
    private OrderCounters _counter;

    [GlobalSetup]
    public void Setup()
    {
        _portfolio = Scenario.Portfolio();
        _limits = Scenario.Limits;
        var c = Scenario.Cases.Single(x => x.Id == Case);
        (_order, _price, _counter) = (c.Order, c.Price, c.Counters);
    }

    [Benchmark]
    public RiskDecision Evaluate() => PreTradeCheck.Evaluate(_order, _portfolio, _limits, _counter, _price, SymbolDataStatus.Ok, TradingMode.Active);
}

/// <summary>All eight decision paths one after the other; reported per decision.</summary>
[MemoryDiagnoser]
public class PreTradeCheckMixBenchmarks
{
    private PortfolioSnapshot _portfolio = null!;
    private RiskLimits _limits = null!;
    private OrderIntent[] _orders = null!;
    private decimal[] _prices = null!;
    private OrderCounters[] _counters = null!;

    [GlobalSetup]
    public void Setup()
    {
        _portfolio = Scenario.Portfolio();
        _limits = Scenario.Limits;
        _orders = Scenario.Cases.Select(x => x.Order).ToArray();
        _prices = Scenario.Cases.Select(x => x.Price).ToArray();
        _counters = Scenario.Cases.Select(x => x.Counters).ToArray();
    }

    [Benchmark(OperationsPerInvoke = 8)]
    public int EvaluateMix()
    {
        var rejected = 0;
        for (var i = 0; i < 8; i++)
            if (!PreTradeCheck.Evaluate(_orders[i], _portfolio, _limits, _counters[i], _prices[i], SymbolDataStatus.Ok, TradingMode.Active).IsAccepted) rejected++;
        return rejected;
    }
}

/// <summary>
/// Not the pure check but what the order path pays around it in Portal: RiskBook builds a new
/// PortfolioSnapshot (a dictionary copy of every book) whenever a reservation or a price changed the
/// view, i.e. once per accepted order under load. This measures that rebuild for the same account.
/// </summary>
[MemoryDiagnoser]
public class PortfolioSnapshotBenchmarks
{
    private Dictionary<string, SymbolBook> _books = null!;

    [GlobalSetup]
    public void Setup() => _books = Scenario.Books();

    [Benchmark]
    public PortfolioSnapshot Rebuild() => new(100_000m, 100_350m, 99_200m, 101_800m, _books);
}
