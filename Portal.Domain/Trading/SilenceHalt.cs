using System.Globalization;
using Portal.Domain.Text;

namespace Portal.Domain.Trading;

/// <summary>A silence (broker or market data) that safe mode met at its own threshold and that outlasts the halt's threshold.</summary>
public static class SilenceHalt
{
    /// <param name="activeSince">Each safe-mode cause in force and since when.</param>
    /// <param name="silences">
    /// The causes that are silences, with the silence after which safe mode engaged them, and whether the silence is
    /// natural while the market is closed (market data: nothing trades, nothing is sent).
    /// </param>
    /// <param name="haltAfter">How long a silence may last in all before trading halts.</param>
    /// <param name="market">The market's session now: while closed, a silence that follows market hours does not halt, and
    /// once open it counts from the open, so the feed has the halt's whole allowance to resume.</param>
    /// <returns>The halt's reason, or null while no silence has lasted <paramref name="haltAfter"/>.</returns>
    public static string? Breach(IReadOnlyDictionary<string, DateTimeOffset> activeSince,
        IEnumerable<(string Cause, TimeSpan SafeModeAfter, bool FollowsMarketHours)> silences, TimeSpan haltAfter, DateTimeOffset now, MarketSession market)
    {
        ArgumentNullException.ThrowIfNull(activeSince);
        ArgumentNullException.ThrowIfNull(silences);
        foreach (var (cause, safeModeAfter, followsMarketHours) in silences)
        {
            if (!activeSince.TryGetValue(cause, out var since)) continue;
            // Safe mode began when the silence reached its first threshold; the silence began that long before.
            var silentSince = since - safeModeAfter;
            if (followsMarketHours)
            {
                if (market.Closed) continue;
                if (market.OpenedAt is { } opened && opened > silentSince) silentSince = opened;
            }
            if (now - silentSince >= haltAfter)
                return string.Create(CultureInfo.InvariantCulture, $"auto: {cause} for longer than {DurationWords.Of(haltAfter)}");
        }
        return null;
    }
}
