namespace Portal.Domain.Trading;

/// <summary>What new orders may do. Safe mode is separate: it is derived from dependency health.</summary>
public enum TradingMode { Active, ReduceOnly, Halted }
