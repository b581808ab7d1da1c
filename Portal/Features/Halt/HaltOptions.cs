using Microsoft.Extensions.Options;

namespace Portal.Features.Halt;

public enum HaltMode { Halt, Cancel, Flatten }

/// <summary><c>TradingState:*</c>: how halts propagate, when safe mode starts, what halts automatically.</summary>
public sealed class HaltOptions
{
    public const string Section = "TradingState";

    /// <summary>How often each instance re-reads the state from Postgres and repairs Redis (a missed message cannot leave it trading).</summary>
    public TimeSpan ReconcileInterval { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>A resume takes effect only after a second, different RiskOfficer approves.</summary>
    public bool RequireSecondApprover { get; set; } = true;
    /// <summary>A resume request not approved within this is void (it must be made again).</summary>
    public TimeSpan ResumeRequestExpiry { get; set; } = TimeSpan.FromMinutes(15);
    /// <summary>
    /// How long a tightening hint from Redis (a halt or reduce-only Postgres does not show yet) holds once Postgres can be
    /// read: long enough for another instance's halt to land in Postgres, short enough that a forged one soon ends.
    /// </summary>
    public TimeSpan UnconfirmedHintGrace { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Broker silence (no successful portfolio refresh) that puts Portal in safe mode.</summary>
    public TimeSpan BrokerSilenceThreshold { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>Market-data silence (no valid price for any symbol) that puts Portal in safe mode.</summary>
    public TimeSpan MarketDataSilenceThreshold { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>Silence this long (broker or market data) halts trading, not only safe mode.</summary>
    public TimeSpan SilenceHaltThreshold { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How often each instance checks the broker's own kill switch (Alpaca's suspend_trade) against the global state, besides
    /// at once after every change of it. Each check is a request to the broker, which counts against its rate limit.
    /// </summary>
    public TimeSpan BrokerKillPathInterval { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>
    /// The instance that halts engages the broker's kill switch itself (after a flatten's closing orders, which the switch
    /// would refuse); the checks of every instance engage a global halt only once it is older than this.
    /// </summary>
    public TimeSpan BrokerKillPathAllowance { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>What an automatic loss or drawdown halt also does.</summary>
    public HaltMode LossHaltMode { get; set; } = HaltMode.Cancel;
    /// <summary>This many MaxOrderValue refusals of one strategy within the window halt that strategy (runaway strategy).</summary>
    public int OrderValueBreachesToHalt { get; set; } = 3;
    public TimeSpan OrderValueBreachWindow { get; set; } = TimeSpan.FromMinutes(1);
}

public sealed class HaltOptionsValidator : IValidateOptions<HaltOptions>
{
    public ValidateOptionsResult Validate(string? name, HaltOptions o)
    {
        var errors = new List<string>();
        void Positive(TimeSpan value, string key, TimeSpan max)
        {
            if (value <= TimeSpan.Zero || value > max) errors.Add($"{HaltOptions.Section}:{key} must be greater than zero and at most {max} (was {value}).");
        }
        Positive(o.ReconcileInterval, nameof(o.ReconcileInterval), TimeSpan.FromSeconds(30));
        Positive(o.ResumeRequestExpiry, nameof(o.ResumeRequestExpiry), TimeSpan.FromDays(1));
        Positive(o.UnconfirmedHintGrace, nameof(o.UnconfirmedHintGrace), TimeSpan.FromMinutes(10));
        Positive(o.BrokerSilenceThreshold, nameof(o.BrokerSilenceThreshold), TimeSpan.FromHours(1));
        Positive(o.MarketDataSilenceThreshold, nameof(o.MarketDataSilenceThreshold), TimeSpan.FromDays(1));
        Positive(o.SilenceHaltThreshold, nameof(o.SilenceHaltThreshold), TimeSpan.FromDays(1));
        Positive(o.BrokerKillPathInterval, nameof(o.BrokerKillPathInterval), TimeSpan.FromMinutes(10));
        Positive(o.BrokerKillPathAllowance, nameof(o.BrokerKillPathAllowance), TimeSpan.FromMinutes(10));
        Positive(o.OrderValueBreachWindow, nameof(o.OrderValueBreachWindow), TimeSpan.FromDays(1));
        if (o.SilenceHaltThreshold <= o.BrokerSilenceThreshold || o.SilenceHaltThreshold <= o.MarketDataSilenceThreshold)
            errors.Add($"{HaltOptions.Section}:SilenceHaltThreshold must be longer than both silence thresholds that start safe mode.");
        if (o.OrderValueBreachesToHalt is < 1 or > 1000)
            errors.Add($"{HaltOptions.Section}:OrderValueBreachesToHalt must be between 1 and 1000 (was {o.OrderValueBreachesToHalt}).");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
