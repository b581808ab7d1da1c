using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FsCheck;
using FsCheck.Xunit;
using Portal.Domain.Audit;

namespace Portal.Tests.Domain.Audit;

public class JsonCanonicalizerTests
{
    // RFC 8785 section 3.2.2: the sample input, verbatim (raw literal, so its escapes stay escapes).
    private const string Rfc8785Sample = """
        {
          "numbers": [333333333.33333329, 1E30, 4.50,
                      2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }
        """;

    // RFC 8785 section 3.2.3: its canonical form (the euro sign is the literal character, as in UTF-8 output).
    private const string Rfc8785SampleCanonical =
        """{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}""";

    // RFC 8785 section 3.2.4: the same canonical form as UTF-8 bytes.
    private const string Rfc8785SampleUtf8Hex =
        "7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72 75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 65 72 73 22 3a " +
        "5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31 65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37 " +
        "5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30 30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d";

    [Fact]
    public void Rfc8785_section_3_2_sample_canonicalizes_to_the_published_text_and_bytes()
    {
        var canonical = JsonCanonicalizer.Canonicalize(Encoding.UTF8.GetBytes(Rfc8785Sample));

        Assert.Equal(Rfc8785SampleCanonical, Encoding.UTF8.GetString(canonical));
        Assert.Equal(Convert.FromHexString(Rfc8785SampleUtf8Hex.Replace(" ", "", StringComparison.Ordinal)), canonical);
    }

    [Fact]
    public void Rfc8785_section_3_2_3_sorts_names_by_utf16_code_units()
    {
        const string input = """
            {
              "\u20ac": "Euro Sign",
              "\r": "Carriage Return",
              "\ufb33": "Hebrew Letter Dalet With Dagesh",
              "1": "One",
              "\ud83d\ude00": "Emoji: Grinning Face",
              "\u0080": "Control",
              "\u00f6": "Latin Small Letter O With Diaeresis"
            }
            """;

        var canonical = Encoding.UTF8.GetString(JsonCanonicalizer.Canonicalize(Encoding.UTF8.GetBytes(input)));

        // The surrogate pair of U+1F600 (0xD83D...) sorts before U+FB33 in UTF-16, though not by code point.
        Assert.Equal(
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\"," +
            "\"\u20ac\":\"Euro Sign\",\"\ud83d\ude00\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}",
            canonical);
    }

    // RFC 8785 Appendix B, every row with a JSON representation: IEEE-754 bits and the expected text.
    [Theory]
    [InlineData("0000000000000000", "0")]
    [InlineData("8000000000000000", "0")]
    [InlineData("0000000000000001", "5e-324")]
    [InlineData("8000000000000001", "-5e-324")]
    [InlineData("7fefffffffffffff", "1.7976931348623157e+308")]
    [InlineData("ffefffffffffffff", "-1.7976931348623157e+308")]
    [InlineData("4340000000000000", "9007199254740992")]
    [InlineData("c340000000000000", "-9007199254740992")]
    [InlineData("4430000000000000", "295147905179352830000")]
    [InlineData("44b52d02c7e14af5", "9.999999999999997e+22")]
    [InlineData("44b52d02c7e14af6", "1e+23")]
    [InlineData("44b52d02c7e14af7", "1.0000000000000001e+23")]
    [InlineData("444b1ae4d6e2ef4e", "999999999999999700000")]
    [InlineData("444b1ae4d6e2ef4f", "999999999999999900000")]
    [InlineData("444b1ae4d6e2ef50", "1e+21")]
    [InlineData("3eb0c6f7a0b5ed8c", "9.999999999999997e-7")]
    [InlineData("3eb0c6f7a0b5ed8d", "0.000001")]
    [InlineData("41b3de4355555553", "333333333.3333332")]
    [InlineData("41b3de4355555554", "333333333.33333325")]
    [InlineData("41b3de4355555555", "333333333.3333333")]
    [InlineData("41b3de4355555556", "333333333.3333334")]
    [InlineData("41b3de4355555557", "333333333.33333343")]
    [InlineData("becbf647612f3696", "-0.0000033333333333333333")]
    [InlineData("43143ff3c1cb0959", "1424953923781206.2")]
    public void Rfc8785_appendix_B_numbers(string ieee754Hex, string expected)
    {
        var value = BitConverter.Int64BitsToDouble(long.Parse(ieee754Hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture));

        Assert.Equal(expected, Encoding.UTF8.GetString(JsonCanonicalizer.CanonicalizeObject(value)));
    }

    [Theory]
    [InlineData("1e400")]
    [InlineData("-1e400")]
    [InlineData("[1, 2e999]")]
    public void Numbers_beyond_the_double_range_are_rejected(string json)
    {
        // JSON text cannot spell NaN or Infinity; overflowing literals are how non-finite numbers arrive (Appendix B).
        Assert.Throws<FormatException>(() => JsonCanonicalizer.Canonicalize(Encoding.UTF8.GetBytes(json)));
    }

    [Theory]
    [InlineData("""["\u0000\u0001\u001f"]""", """["\u0000\u0001\u001f"]""")]
    [InlineData("""["\u0008\u0009\u000a\u000c\u000d"]""", """["\b\t\n\f\r"]""")]
    [InlineData("""["\u00e9\u20ac\ud83d\ude00"]""", "[\"é€😀\"]")]
    [InlineData("""["\u007f\/<>&'\u2028"]""", "[\"\u007f/<>&'\u2028\"]")]
    [InlineData("""["\u0022\u005c"]""", """["\"\\"]""")]
    [InlineData("""["plain ascii", "é stays é"]""", """["plain ascii","é stays é"]""")]
    [InlineData("""{"\u0041\n": 1}""", """{"A\n":1}""")]
    public void Strings_carry_only_the_escapes_rfc8785_section_3_2_2_2_requires(string json, string expected)
    {
        Assert.Equal(expected, Encoding.UTF8.GetString(JsonCanonicalizer.Canonicalize(Encoding.UTF8.GetBytes(json))));
    }

    [Fact]
    public void Control_character_escapes_use_lowercase_hex()
    {
        var canonical = Encoding.UTF8.GetString(JsonCanonicalizer.Canonicalize("\"\\u001F\\u000B\""u8));

        Assert.Equal("\"\\u001f\\u000b\"", canonical);
    }

    [Fact]
    public void Whitespace_goes_nested_objects_are_sorted_and_array_order_is_kept()
    {
        const string json = """
            { "b" : [ 3, { "z" : 1, "a" : [ true, false, null ] } ],
              "a" : { "y" : {}, "x" : [] }, "" : -0.0 }
            """;

        var canonical = JsonCanonicalizer.Canonicalize(Encoding.UTF8.GetBytes(json));

        Assert.Equal("""{"":0,"a":{"x":[],"y":{}},"b":[3,{"a":[true,false,null],"z":1}]}""", Encoding.UTF8.GetString(canonical));
    }

    [Theory]
    [InlineData("""{"a":1,"a":2}""")]
    [InlineData("""{"outer":{"k":1,"\u006b":2}}""")]
    [InlineData("""[{"x":1},{"y":1,"y":1}]""")]
    public void Duplicate_member_names_are_rejected(string json)
    {
        Assert.Throws<FormatException>(() => JsonCanonicalizer.Canonicalize(Encoding.UTF8.GetBytes(json)));
    }

    [Theory]
    [InlineData("""["a\ud800b"]""")]
    [InlineData("""{"\udc00":1}""")]
    public void Lone_surrogates_are_rejected(string json)
    {
        Assert.Throws<FormatException>(() => JsonCanonicalizer.Canonicalize(Encoding.UTF8.GetBytes(json)));
    }

    [Theory]
    [InlineData("22ff22")]
    [InlineData("22c322")]
    [InlineData("22eda08022")]
    [InlineData("7b22ff223a317d")]
    public void Invalid_utf8_is_rejected(string jsonHex)
    {
        Assert.Throws<FormatException>(() => JsonCanonicalizer.Canonicalize(Convert.FromHexString(jsonHex)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("[1,2] 3")]
    [InlineData("{\"a\":1,}")]
    [InlineData("// comment\n1")]
    public void Malformed_json_is_rejected(string json)
    {
        Assert.ThrowsAny<JsonException>(() => JsonCanonicalizer.Canonicalize(Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void Node_object_element_and_text_inputs_agree()
    {
        const string expected = """{"amount":"1000.50","tags":["b","a"],"when":"2025-01-02","z":1.5}""";
        var node = new JsonObject { ["z"] = 1.5, ["when"] = "2025-01-02", ["tags"] = new JsonArray("b", "a"), ["amount"] = "1000.50" };
        var value = new { z = 1.5, when = "2025-01-02", tags = new[] { "b", "a" }, amount = "1000.50" };
        using var document = JsonDocument.Parse("""{ "tags": ["b", "a"], "amount": "1000.50", "z": 15e-1, "when": "2025-01-02" }""");
        var buffer = new ArrayBufferWriter<byte>();
        JsonCanonicalizer.Write(document.RootElement, buffer);

        Assert.Equal(expected, Encoding.UTF8.GetString(JsonCanonicalizer.Canonicalize(node)));
        Assert.Equal(expected, Encoding.UTF8.GetString(JsonCanonicalizer.CanonicalizeObject(value)));
        Assert.Equal(expected, Encoding.UTF8.GetString(JsonCanonicalizer.Canonicalize(document.RootElement)));
        Assert.Equal(expected, Encoding.UTF8.GetString(buffer.WrittenSpan));
        Assert.Equal("null", Encoding.UTF8.GetString(JsonCanonicalizer.Canonicalize((JsonNode?)null)));
    }

    [Property]
    public bool Any_member_order_gives_one_form_whose_numbers_round_trip(NonNull<string>[] names, NormalFloat[] numbers)
    {
        // Lone surrogates are not I-JSON (and are rejected, see above), so they are dropped from generated names.
        var members = names
            .Select(n => new string(n.Get.Where(c => !char.IsSurrogate(c)).ToArray()))
            .Distinct(StringComparer.Ordinal)
            .Zip(numbers, (name, number) => (name, number: number.Get))
            .ToList();
        var forward = new JsonObject(members.Select(m => KeyValuePair.Create(m.name, (JsonNode?)m.number)));
        var backward = new JsonObject(members.AsEnumerable().Reverse().Select(m => KeyValuePair.Create(m.name, (JsonNode?)m.number)));

        var canonical = JsonCanonicalizer.Canonicalize(forward);
        using var reparsed = JsonDocument.Parse(canonical);

        return canonical.AsSpan().SequenceEqual(JsonCanonicalizer.Canonicalize(backward))
            && canonical.AsSpan().SequenceEqual(JsonCanonicalizer.Canonicalize(canonical))
            && members.All(m => reparsed.RootElement.GetProperty(m.name).GetDouble().Equals(m.number));
    }

    [Fact]
    public void Canonical_output_is_a_fixed_point()
    {
        var once = JsonCanonicalizer.Canonicalize(Encoding.UTF8.GetBytes(Rfc8785Sample));

        Assert.Equal(once, JsonCanonicalizer.Canonicalize(once));
    }

    [Fact]
    public void Large_documents_grow_the_buffer()
    {
        var items = Enumerable.Range(0, 20_000).Select(i => $"\"k{i:D5}\":\"{new string('x', i % 50)}\\n\"");
        var json = "{" + string.Join(",", items.Reverse()) + "}";

        var canonical = Encoding.UTF8.GetString(JsonCanonicalizer.Canonicalize(Encoding.UTF8.GetBytes(json)));

        Assert.StartsWith("{\"k00000\":\"\\n\",\"k00001\":\"x\\n\"", canonical, StringComparison.Ordinal);
        Assert.EndsWith($"\"k19999\":\"{new string('x', 19_999 % 50)}\\n\"}}", canonical, StringComparison.Ordinal);
    }
}
