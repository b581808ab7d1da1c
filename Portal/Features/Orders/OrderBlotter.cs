namespace Portal.Features.Orders;

public enum BlotterWindow { LastHour, Last24Hours, Last7Days, All }

/// <summary>The blotter's filters; empty text means any. Each narrows the query on indexed columns where it can.</summary>
public sealed record BlotterFilter(string? Strategy = null, string? Symbol = null, string? Decision = null, string? Reason = null, BlotterWindow Window = BlotterWindow.Last24Hours)
{
    public static string Describe(BlotterWindow window) => window switch
    {
        BlotterWindow.LastHour => "Last hour",
        BlotterWindow.Last24Hours => "Last 24 hours",
        BlotterWindow.Last7Days => "Last 7 days",
        _ => "All time",
    };

    public IQueryable<OrderRow> Apply(IQueryable<OrderRow> orders, DateTimeOffset now)
    {
        if (Since(now) is { } since) orders = orders.Where(o => o.CreatedAt >= since);
        if (!string.IsNullOrWhiteSpace(Strategy)) orders = orders.Where(o => o.StrategyId == Strategy.Trim());
        if (!string.IsNullOrWhiteSpace(Symbol)) orders = orders.Where(o => o.Symbol == Symbol.Trim().ToUpperInvariant());
        if (!string.IsNullOrWhiteSpace(Decision)) orders = orders.Where(o => o.Decision == Decision);
        if (!string.IsNullOrWhiteSpace(Reason)) orders = orders.Where(o => o.Reason != null && o.Reason.StartsWith(Reason.Trim()));
        return orders;
    }

    private DateTimeOffset? Since(DateTimeOffset now) => Window switch
    {
        BlotterWindow.LastHour => now.AddHours(-1),
        BlotterWindow.Last24Hours => now.AddDays(-1),
        BlotterWindow.Last7Days => now.AddDays(-7),
        _ => null,
    };
}
