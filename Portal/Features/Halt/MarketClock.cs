using Portal.Domain.Trading;

namespace Portal.Features.Halt;

/// <summary>The broker's market hours, for judging silence: market data is silent by nature while the market is closed.</summary>
public interface IMarketClock
{
    MarketSession At(DateTimeOffset now);
}

/// <summary>The paper broker and the demo market trade around the clock.</summary>
public sealed class MarketNeverCloses : IMarketClock
{
    public MarketSession At(DateTimeOffset now) => MarketSession.Unknown;
}
