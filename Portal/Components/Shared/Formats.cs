using System.Globalization;
using Portal.Domain.Text;

namespace Portal.Components.Shared;

/// <summary>
/// How every page shows the numbers and times people read, one way each: money as "$1,234.56" / "-$1,234.56",
/// fractions as "10 %", durations in words ("1 minute"), times as "2026-12-06 14:30:05 UTC" (24-hour, always with
/// the zone), and the one typed time format pickers accept ("2026-12-06 14:30", read as UTC). Invariant culture,
/// so a server's locale never changes what an operator or a regulator reads.
/// </summary>
public static class Formats
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>The format of typed times (24-hour, UTC): "2026-12-06 14:30".</summary>
    public const string UtcInputFormat = "yyyy-MM-dd HH:mm";

    /// <summary>What a typed time that does not parse is told.</summary>
    public const string UtcInputError = "Type a UTC time as yyyy-MM-dd HH:mm (24-hour), e.g. 2026-12-06 14:30.";

    /// <summary>"$1,234.56", negative "-$1,234.56".</summary>
    public static string Usd(decimal value) => value.ToString("$#,##0.00;-$#,##0.00;$0.00", Invariant);

    /// <summary>As <see cref="Usd(decimal)"/>, "—" when unknown.</summary>
    public static string Usd(decimal? value) => value is { } v ? Usd(v) : "—";

    /// <summary>A fraction as a percentage: 0.1 → "10 %", 0.0125 → "1.25 %".</summary>
    public static string Percent(decimal fraction) => (fraction * 100m).ToString("0.##", Invariant) + " %";

    /// <summary>As <see cref="Percent(decimal)"/>, "—" when unknown.</summary>
    public static string Percent(decimal? fraction) => fraction is { } f ? Percent(f) : "—";

    /// <summary>A plain number, as many decimals as it has: 1000 → "1,000", 0.5 → "0.5".</summary>
    public static string Number(decimal value) => value.ToString("#,0.########", Invariant);

    /// <summary>A duration in words, largest units first: "1 minute", "1 hour 30 minutes", "45 seconds", "250 milliseconds".</summary>
    public static string Duration(TimeSpan span) => DurationWords.Of(span);

    /// <summary>A time in UTC with its zone, 24-hour: "2026-12-06 14:30:05 UTC".</summary>
    public static string Utc(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", Invariant) + " UTC";

    /// <summary>As <see cref="Utc(DateTimeOffset)"/>, "—" when there is none.</summary>
    public static string Utc(DateTimeOffset? time) => time is { } t ? Utc(t) : "—";

    /// <summary>As <see cref="Utc(DateTimeOffset)"/> with milliseconds, for ticks and events a second apart is too coarse for.</summary>
    public static string UtcPrecise(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", Invariant) + " UTC";

    /// <summary>A typed time in <see cref="UtcInputFormat"/> (surrounding spaces and a trailing " UTC" allowed), read as UTC.</summary>
    public static bool TryParseUtcInput(string? text, out DateTimeOffset value)
    {
        value = default;
        var trimmed = text?.Trim() ?? "";
        if (trimmed.EndsWith("UTC", StringComparison.OrdinalIgnoreCase)) trimmed = trimmed[..^3].TrimEnd();
        if (!DateTime.TryParseExact(trimmed, UtcInputFormat, Invariant, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
            return false;
        value = new DateTimeOffset(parsed, TimeSpan.Zero);
        return true;
    }

    /// <summary>A time as the pickers show it back: "2026-12-06 14:30".</summary>
    public static string UtcInput(DateTimeOffset time) => time.UtcDateTime.ToString(UtcInputFormat, Invariant);
}
