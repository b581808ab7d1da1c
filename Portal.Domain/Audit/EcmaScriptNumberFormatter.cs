using System.Globalization;

namespace Portal.Domain.Audit;

/// <summary>
/// Number.prototype.toString (ECMA-262 section 7.1.12.1, "Number::toString"), as RFC 8785 section 3.2.2.3 requires.
/// .NET's "R" format already yields the shortest digit string that round-trips (the ECMAScript digits, including
/// the Note 2 choice of the closest candidate); only the placement of the decimal point and exponent differs.
/// </summary>
internal static class EcmaScriptNumberFormatter
{
    public static void Write(CanonicalJsonWriter writer, double value)
    {
        Span<byte> dotnet = stackalloc byte[32];
        value.TryFormat(dotnet, out var formattedLength, "R", CultureInfo.InvariantCulture);
        dotnet = dotnet[..formattedLength];

        var negative = dotnet[0] == '-';
        if (negative)
        {
            dotnet = dotnet[1..];
        }

        // Split "d.dddE±xx" into significant digits and n, the position of the decimal point:
        // value = 0.d1d2..dk × 10^n, as in the ECMAScript algorithm.
        Span<byte> digits = stackalloc byte[24];
        var digitCount = 0;
        var integerDigits = -1;
        var exponent = 0;
        for (var i = 0; i < dotnet.Length; i++)
        {
            var c = dotnet[i];
            if (c == '.')
            {
                integerDigits = digitCount;
            }
            else if (c is (byte)'E' or (byte)'e')
            {
                exponent = int.Parse(dotnet[(i + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
                break;
            }
            else
            {
                digits[digitCount++] = c;
            }
        }

        if (integerDigits < 0)
        {
            integerDigits = digitCount;
        }

        var leadingZeros = 0;
        while (leadingZeros < digitCount - 1 && digits[leadingZeros] == '0')
        {
            leadingZeros++;
        }

        var significant = digits[leadingZeros..digitCount];
        while (significant.Length > 1 && significant[^1] == '0')
        {
            significant = significant[..^1];
        }

        var k = significant.Length;
        var n = integerDigits - leadingZeros + exponent;

        if (negative)
        {
            writer.WriteByte((byte)'-');
        }

        if (k <= n && n <= 21)
        {
            // Integer digits padded with zeros: 295147905179352830000.
            writer.WriteRaw(significant);
            writer.Append(n - k).Fill((byte)'0');
        }
        else if (0 < n && n <= 21)
        {
            // Decimal point inside the digits: 333333333.3333333.
            writer.WriteRaw(significant[..n]);
            writer.WriteByte((byte)'.');
            writer.WriteRaw(significant[n..]);
        }
        else if (-6 < n && n <= 0)
        {
            // Small magnitude without exponent: 0.000001.
            writer.WriteRaw("0."u8);
            writer.Append(-n).Fill((byte)'0');
            writer.WriteRaw(significant);
        }
        else
        {
            // Exponential: 1e+21, 9.999999999999997e-7.
            writer.WriteByte(significant[0]);
            if (k > 1)
            {
                writer.WriteByte((byte)'.');
                writer.WriteRaw(significant[1..]);
            }

            var e = n - 1;
            writer.WriteByte((byte)'e');
            writer.WriteByte(e < 0 ? (byte)'-' : (byte)'+');
            writer.WriteInteger(Math.Abs(e));
        }
    }
}
