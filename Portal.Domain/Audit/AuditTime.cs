using System.Globalization;

namespace Portal.Domain.Audit;

/// <summary>
/// Audit timestamps: UTC, truncated to microseconds because PostgreSQL's timestamptz keeps no more, written as
/// <c>yyyy-MM-ddTHH:mm:ss.ffffffZ</c> (always six fraction digits, so one instant has one text form).
/// </summary>
internal static class AuditTime
{
    public const int TextLength = 27;

    private const string Format = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";

    public static DateTimeOffset Normalize(DateTimeOffset time)
    {
        var utcTicks = time.UtcTicks;
        return new DateTimeOffset(utcTicks - (utcTicks % 10), TimeSpan.Zero);
    }

    /// <summary>Writes the text form of an already normalized time into exactly <see cref="TextLength"/> bytes.</summary>
    public static void Write(DateTimeOffset normalized, Span<byte> utf8)
    {
        var t = normalized.UtcDateTime;
        WriteDigits(utf8[..4], t.Year);
        utf8[4] = (byte)'-';
        WriteDigits(utf8.Slice(5, 2), t.Month);
        utf8[7] = (byte)'-';
        WriteDigits(utf8.Slice(8, 2), t.Day);
        utf8[10] = (byte)'T';
        WriteDigits(utf8.Slice(11, 2), t.Hour);
        utf8[13] = (byte)':';
        WriteDigits(utf8.Slice(14, 2), t.Minute);
        utf8[16] = (byte)':';
        WriteDigits(utf8.Slice(17, 2), t.Second);
        utf8[19] = (byte)'.';
        WriteDigits(utf8.Slice(20, 6), (int)(t.Ticks % TimeSpan.TicksPerSecond / 10));
        utf8[26] = (byte)'Z';
    }

    public static string ToText(DateTimeOffset normalized)
    {
        Span<byte> utf8 = stackalloc byte[TextLength];
        Write(normalized, utf8);
        return System.Text.Encoding.ASCII.GetString(utf8);
    }

    public static bool TryParse(string? text, out DateTimeOffset time)
    {
        var parsed = DateTimeOffset.TryParseExact(
            text, Format, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time);
        return parsed && text!.Length == TextLength;
    }

    private static void WriteDigits(Span<byte> destination, int value)
    {
        for (var i = destination.Length - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + (value % 10));
            value /= 10;
        }
    }
}
