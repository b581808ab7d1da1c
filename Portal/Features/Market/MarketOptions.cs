using Microsoft.Extensions.Options;
using Portal.Domain.Orders;

namespace Portal.Features.Market;

public sealed class MarketOptions
{
    public const string Section = "Market";

    public List<SymbolOptions> Symbols { get; set; } = [];
}

public sealed class SymbolOptions
{
    public string Symbol { get; set; } = "";
    public int QuantityDecimals { get; set; }
    public int PriceDecimals { get; set; } = 2;
    /// <summary>Where the demo market's random walk starts.</summary>
    public decimal DemoStartPrice { get; set; }
}

public sealed class MarketOptionsValidator : IValidateOptions<MarketOptions>
{
    public ValidateOptionsResult Validate(string? name, MarketOptions options)
    {
        var errors = new List<string>();
        if (options.Symbols.Count == 0) errors.Add($"{MarketOptions.Section}:Symbols must list at least one symbol.");
        for (var i = 0; i < options.Symbols.Count; i++)
        {
            var s = options.Symbols[i];
            var key = $"{MarketOptions.Section}:Symbols:{i}";
            if (!SymbolCatalog.IsWellFormed(s.Symbol)) errors.Add($"{key}:Symbol '{s.Symbol}' must be 1 to 16 characters of A-Z, 0-9, '.' or '/'.");
            if (s.QuantityDecimals is < 0 or > 9) errors.Add($"{key}:QuantityDecimals must be between 0 and 9.");
            if (s.PriceDecimals is < 0 or > 9) errors.Add($"{key}:PriceDecimals must be between 0 and 9.");
            if (s.DemoStartPrice < 0) errors.Add($"{key}:DemoStartPrice must not be negative.");
        }
        foreach (var duplicate in options.Symbols.GroupBy(s => s.Symbol).Where(g => g.Count() > 1))
            errors.Add($"{MarketOptions.Section}:Symbols lists '{duplicate.Key}' more than once.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>The tradable symbols and how finely each may be quoted.</summary>
public sealed class SymbolCatalog(IOptions<MarketOptions> options)
{
    private readonly Dictionary<string, SymbolSpec> _specs = options.Value.Symbols
        .ToDictionary(s => s.Symbol, s => new SymbolSpec(s.Symbol, s.QuantityDecimals, s.PriceDecimals), StringComparer.Ordinal);

    public SymbolSpec? Find(string symbol) => _specs.GetValueOrDefault(symbol);

    public IReadOnlyCollection<SymbolSpec> All => _specs.Values;

    public static bool IsWellFormed(string symbol) =>
        symbol.Length is > 0 and <= 16 && symbol.All(c => c is (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '/');
}
