using System.Text.RegularExpressions;
using Portal.Components.Shared;
using Portal.Domain.Risk;

namespace Portal.Features.Limits;

/// <summary>One limit whose value a version changes: old → new.</summary>
public sealed record LimitChange(string Name, decimal Old, decimal New)
{
    public static IReadOnlyList<LimitChange> Between(RiskLimits old, RiskLimits @new) =>
        old.Entries().Zip(@new.Entries()).Where(p => p.First.Value != p.Second.Value)
            .Select(p => new LimitChange(p.First.Name, p.First.Value, p.Second.Value)).ToList();
}

/// <summary>How pages show a limit: its name in words and its value in its unit.</summary>
public static partial class LimitText
{
    public static string Label(string name) =>
        SplitWords().Replace(name, " $1").Replace(" Usd", " (USD)").Replace(" Pct Portfolio", " (% of portfolio)").Replace(" Pct", " (%)");

    /// <summary>Percent limits are stored and typed as fractions: 0.15 = 15 %.</summary>
    public static bool IsFraction(string name) => name.Contains("Pct", StringComparison.Ordinal);

    /// <summary>USD limits as money ("$5,000.00"), fractions as percentages ("10 %"), counts and ratios plain ("1,000").</summary>
    public static string Value(string name, decimal value) =>
        IsFraction(name) ? Formats.Percent(value)
        : name.EndsWith("Usd", StringComparison.Ordinal) ? Formats.Usd(value)
        : Formats.Number(value);

    [GeneratedRegex("(?<=[a-z])([A-Z])")]
    private static partial Regex SplitWords();
}
