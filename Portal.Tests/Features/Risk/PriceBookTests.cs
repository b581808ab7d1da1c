using Portal.Features.Risk;

namespace Portal.Tests.Features.Risk;

public sealed class PriceBookTests
{
    private static readonly DateTimeOffset T = new(2026, 12, 8, 14, 30, 0, TimeSpan.Zero);

    /// <summary>
    /// Ticks are validated in order under their symbol's lock, but written to the book after it: two batches of one symbol
    /// (an API batch and a peer's relay) could write in the other order and leave the older price in force.
    /// </summary>
    [Fact]
    public void An_older_price_written_after_a_newer_one_does_not_replace_it()
    {
        var book = new PriceBook();
        var heard = new List<PriceMark>();
        book.PriceChanged += heard.Add;

        book.Update(new PriceMark("AAPL", 101m, T.AddMilliseconds(2), 0m));
        book.Update(new PriceMark("AAPL", 100m, T.AddMilliseconds(1), 0m));
        book.Update(new PriceMark("AAPL", 102m, T.AddMilliseconds(2), 0m));

        Assert.Equal(102m, book.Get("AAPL")!.Price);
        Assert.Equal([101m, 102m], heard.Select(m => m.Price));
    }
}
