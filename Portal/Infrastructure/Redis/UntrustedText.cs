using System.Text;

namespace Portal.Infrastructure.Redis;

/// <summary>Text that came from Redis (anyone holding its password could have written it), made safe for logs, pages and security events.</summary>
public static class UntrustedText
{
    public const int MaxLength = 200;

    /// <summary>At most <see cref="MaxLength"/> characters, control characters replaced with '?'.</summary>
    public static string Printable(string text)
    {
        var builder = new StringBuilder(Math.Min(text.Length, MaxLength));
        foreach (var c in text.Take(MaxLength)) builder.Append(char.IsControl(c) ? '?' : c);
        return builder.ToString();
    }
}
