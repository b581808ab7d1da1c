namespace Portal.Domain.Audit;

/// <summary>Lowercase hexadecimal, the only spelling the audit formats accept, so one hash has one text form.</summary>
internal static class Hex
{
    public static byte LowerDigit(int nibble) => "0123456789abcdef"u8[nibble];

    public static void WriteLower(ReadOnlySpan<byte> bytes, Span<byte> utf8Destination)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            utf8Destination[2 * i] = LowerDigit(bytes[i] >> 4);
            utf8Destination[(2 * i) + 1] = LowerDigit(bytes[i] & 0xF);
        }
    }

    /// <summary>Parses exactly <c>2 × destination.Length</c> lowercase hex characters (UTF-8).</summary>
    public static bool TryParseLower(ReadOnlySpan<byte> utf8Hex, Span<byte> destination)
    {
        if (utf8Hex.Length != 2 * destination.Length)
        {
            return false;
        }

        for (var i = 0; i < destination.Length; i++)
        {
            var high = LowerValue(utf8Hex[2 * i]);
            var low = LowerValue(utf8Hex[(2 * i) + 1]);
            if ((high | low) < 0)
            {
                return false;
            }

            destination[i] = (byte)((high << 4) | low);
        }

        return true;
    }

    private static int LowerValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        _ => -1,
    };
}
