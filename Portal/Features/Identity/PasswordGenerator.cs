using System.Security.Cryptography;

namespace Portal.Features.Identity;

/// <summary>Random passwords for new and demo users: 20 characters (≈ 115 bits) without look-alikes, in groups of five.</summary>
public static class PasswordGenerator
{
    private const string Alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

    public static string Generate()
    {
        Span<char> chars = stackalloc char[23];
        for (var i = 0; i < chars.Length; i++)
            chars[i] = i % 6 == 5 ? '-' : Alphabet[RandomNumberGenerator.GetInt32(Alphabet.Length)];
        return new string(chars);
    }
}
