using System.Globalization;
using Portal.Domain.Text;

namespace Portal.Domain.Trading;

/// <summary>A silence (broker or market data) that safe mode met at its own threshold and that outlasts the halt's threshold.</summary>
public static class SilenceHalt
{
    /// <param name="activeSince">Each safe-mode cause in force and since when.</param>
    /// <param name="silences">The causes that are silences, with the silence after which safe mode engaged them.</param>
    /// <param name="haltAfter">How long a silence may last in all before trading halts.</param>
    /// <returns>The halt's reason, or null while no silence has lasted <paramref name="haltAfter"/>.</returns>
    public static string? Breach(IReadOnlyDictionary<string, DateTimeOffset> activeSince, IEnumerable<(string Cause, TimeSpan SafeModeAfter)> silences,
        TimeSpan haltAfter, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(activeSince);
        ArgumentNullException.ThrowIfNull(silences);
        // Safe mode began when the silence reached its first threshold; the halt comes at the second, counted from the last word.
        foreach (var (cause, safeModeAfter) in silences)
            if (activeSince.TryGetValue(cause, out var since) && now - since >= haltAfter - safeModeAfter)
                return string.Create(CultureInfo.InvariantCulture, $"auto: {cause} for longer than {DurationWords.Of(haltAfter)}");
        return null;
    }
}
