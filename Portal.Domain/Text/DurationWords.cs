using System.Globalization;

namespace Portal.Domain.Text;

/// <summary>
/// A duration in words, largest units first: "1 minute", "1 hour 30 minutes", "45 seconds", "1.5 seconds",
/// "250 milliseconds", never "00:01:00". Here so halt reasons written in the domain read the same as the pages
/// (which use it through Portal's Formats.Duration).
/// </summary>
public static class DurationWords
{
    public static string Of(TimeSpan span)
    {
        var sign = span < TimeSpan.Zero ? "-" : "";
        span = span.Duration();
        if (span < TimeSpan.FromSeconds(1))
            return sign + Count((long)Math.Round(span.TotalMilliseconds), "millisecond");
        var parts = new List<string>(4);
        if (span.Days > 0) parts.Add(Count(span.Days, "day"));
        if (span.Hours > 0) parts.Add(Count(span.Hours, "hour"));
        if (span.Minutes > 0) parts.Add(Count(span.Minutes, "minute"));
        if (span.Seconds > 0 || span.Milliseconds > 0)
            parts.Add(span.Milliseconds > 0
                ? (span.Seconds + span.Milliseconds / 1000m).ToString("0.###", CultureInfo.InvariantCulture) + " seconds"
                : Count(span.Seconds, "second"));
        return sign + string.Join(' ', parts);
    }

    private static string Count(long n, string unit) => n.ToString("#,0", CultureInfo.InvariantCulture) + " " + unit + (n == 1 ? "" : "s");
}
