using System.Globalization;

namespace Portal.Infrastructure.Http;

/// <summary>
/// The rule for a free-text reason (halt, resume, limit change): it is shown on pages, kept in the audit trail and sent
/// to the on-call webhook, so it is short and holds no control or invisible formatting characters (a line break that
/// forges a second log line, a terminal escape, a bidirectional override that reorders what a reviewer reads).
/// </summary>
public static class ReasonText
{
    public const int MaxLength = 500;

    /// <summary>What is wrong with <paramref name="reason"/> (already trimmed), or null if it is acceptable.</summary>
    public static string? Problem(string reason)
    {
        if (reason.Length == 0) return "is required.";
        if (reason.Length > MaxLength) return $"must be at most {MaxLength} characters.";
        if (reason.Any(IsForbidden)) return "must not contain control or formatting characters (line breaks, escapes, bidirectional overrides).";
        return null;
    }

    /// <summary>
    /// <paramref name="reason"/> made acceptable: forbidden characters become spaces and it is cut to the maximum. For a
    /// halt, which must never be refused over its wording; everything else refuses with <see cref="Problem"/>.
    /// </summary>
    public static string Clean(string reason)
    {
        var cleaned = new string(reason.Select(c => IsForbidden(c) ? ' ' : c).ToArray()).Trim();
        return cleaned.Length <= MaxLength ? cleaned : cleaned[..MaxLength];
    }

    private static bool IsForbidden(char c) => char.GetUnicodeCategory(c) is UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;
}
