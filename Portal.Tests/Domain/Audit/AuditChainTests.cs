using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Portal.Domain.Audit;

namespace Portal.Tests.Domain.Audit;

public class AuditChainTests
{
    private static AuditEventDraft KnownEvent() => new(
        new DateTimeOffset(2025, 1, 2, 4, 4, 5, TimeSpan.FromHours(1)).AddTicks(1_234_567),
        "user:alice",
        "limit.changed",
        "account:42",
        JsonDocument.Parse("""{ "reason": "quarterly review — \"ok\"", "max_position": 250000, "ratio": 0.25, "prev": null }""").RootElement);

    // The format is a contract with every stored row and export: these bytes and this hash must never change.
    // KnownCanonical was written out by hand from the format (keys in JCS order, time in UTC truncated to
    // microseconds); KnownHash is SHA-256 of it, computed independently of this code with
    // `printf '%s' "$canonical" | sha256sum` and checked against Seal's output.
    private const string KnownCanonical =
        """{"actor":"user:alice","payload":{"max_position":250000,"prev":null,"ratio":0.25,"reason":"quarterly review — \"ok\""},"prev":"0000000000000000000000000000000000000000000000000000000000000000","seq":1,"subject":"account:42","time":"2025-01-02T03:04:05.123456Z","type":"limit.changed","v":1}""";

    private const string KnownHash = "3489088065266fc272f5b7be2f054e3974309fd3efce9865a81a1540a9fd688b";

    [Fact]
    public void Sealing_a_known_event_gives_the_pinned_bytes_and_hash()
    {
        var record = AuditChain.Seal(KnownEvent(), 1, AuditChain.GenesisHash);

        Assert.Equal(KnownCanonical, Encoding.UTF8.GetString(record.Canonical));
        Assert.Equal(KnownHash, Convert.ToHexStringLower(record.Hash));
    }

    [Fact]
    public void Record_fields_are_what_was_hashed()
    {
        var record = AuditChain.Seal(KnownEvent(), 1, AuditChain.GenesisHash);

        Assert.Equal(1, record.Seq);
        Assert.Equal(new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(1_234_560), record.Time);
        Assert.Equal(TimeSpan.Zero, record.Time.Offset);
        Assert.Equal("user:alice", record.Actor);
        Assert.Equal("limit.changed", record.Type);
        Assert.Equal("account:42", record.Subject);
        Assert.Equal("""{"max_position":250000,"prev":null,"ratio":0.25,"reason":"quarterly review — \"ok\""}""", Encoding.UTF8.GetString(record.Payload));
        Assert.Equal(new byte[32], record.PrevHash);
        Assert.Equal(SHA256.HashData(record.Canonical), record.Hash);
        Assert.Equal(1, record.FormatVersion);
    }

    [Fact]
    public void Payload_member_order_and_spacing_do_not_change_the_hash()
    {
        var draft = KnownEvent();
        var reordered = draft with
        {
            Payload = JsonDocument.Parse("""{"prev":null,"ratio":2.5e-1,"max_position":2.5E5,"reason":"quarterly review \u2014 \"ok\""}""").RootElement,
        };

        Assert.Equal(
            AuditChain.Seal(draft, 1, AuditChain.GenesisHash).Hash,
            AuditChain.Seal(reordered, 1, AuditChain.GenesisHash).Hash);
    }

    [Fact]
    public void Every_field_and_the_link_change_the_hash()
    {
        var draft = KnownEvent();
        var otherPrev = Enumerable.Repeat((byte)7, 32).ToArray();
        var hashes = new[]
        {
            AuditChain.Seal(draft, 1, AuditChain.GenesisHash),
            AuditChain.Seal(draft, 2, AuditChain.GenesisHash),
            AuditChain.Seal(draft, 1, otherPrev),
            AuditChain.Seal(draft with { Time = draft.Time.AddTicks(10) }, 1, AuditChain.GenesisHash),
            AuditChain.Seal(draft with { Actor = "user:bob" }, 1, AuditChain.GenesisHash),
            AuditChain.Seal(draft with { Type = "limit.removed" }, 1, AuditChain.GenesisHash),
            AuditChain.Seal(draft with { Subject = "account:43" }, 1, AuditChain.GenesisHash),
            AuditChain.Seal(draft with { Payload = JsonDocument.Parse("""{"max_position":250001}""").RootElement }, 1, AuditChain.GenesisHash),
        }.Select(r => Convert.ToHexStringLower(r.Hash));

        Assert.Equal(8, hashes.Distinct().Count());
    }

    [Fact]
    public void Time_below_a_microsecond_does_not_reach_the_hash()
    {
        var draft = KnownEvent();

        Assert.Equal(
            AuditChain.Seal(draft, 1, AuditChain.GenesisHash).Hash,
            AuditChain.Seal(draft with { Time = draft.Time.AddTicks(2) }, 1, AuditChain.GenesisHash).Hash);
    }

    [Fact]
    public void Each_record_links_to_its_predecessor()
    {
        var chain = AuditFixtures.Chain(5);

        Assert.Equal(AuditChain.GenesisHash.ToArray(), chain[0].PrevHash);
        for (var i = 1; i < chain.Count; i++)
        {
            Assert.Equal(chain[i - 1].Hash, chain[i].PrevHash);
        }
    }

    [Fact]
    public void Payload_may_be_any_json_value_from_an_object()
    {
        var record = AuditChain.Seal(
            AuditEventDraft.Create(AuditFixtures.Start, "a", "t", "s", new Dictionary<string, object?> { ["b"] = 1, ["a"] = null }),
            1,
            AuditChain.GenesisHash);

        Assert.Equal("""{"a":null,"b":1}""", Encoding.UTF8.GetString(record.Payload));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData((1L << 53) + 1)]
    public void Seq_outside_1_to_2_pow_53_is_refused(long seq)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => AuditChain.Seal(KnownEvent(), seq, AuditChain.GenesisHash));
    }

    [Fact]
    public void Prev_hash_must_be_32_bytes()
    {
        Assert.Throws<ArgumentException>(() => AuditChain.Seal(KnownEvent(), 1, new byte[31]));
    }

    [Fact]
    public void A_payload_with_duplicate_members_cannot_be_sealed()
    {
        var draft = KnownEvent() with { Payload = JsonDocument.Parse("""{"a":1,"a":2}""").RootElement };

        Assert.Throws<FormatException>(() => AuditChain.Seal(draft, 1, AuditChain.GenesisHash));
    }
}
