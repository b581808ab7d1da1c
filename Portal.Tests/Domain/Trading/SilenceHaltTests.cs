using Portal.Domain.Trading;

namespace Portal.Tests.Domain.Trading;

public sealed class SilenceHaltTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 15, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan HaltAfter = TimeSpan.FromMinutes(1);
    private static readonly (string, TimeSpan)[] Silences = [("broker-silent", TimeSpan.FromSeconds(5)), ("market-data-silent", TimeSpan.FromSeconds(10))];

    [Theory]
    [InlineData("broker-silent", 55)]
    [InlineData("market-data-silent", 50)]
    public void A_silence_halts_exactly_when_it_has_lasted_the_halt_threshold_in_all(string cause, int secondsInSafeMode)
    {
        var justBefore = new Dictionary<string, DateTimeOffset> { [cause] = Now - TimeSpan.FromSeconds(secondsInSafeMode) + TimeSpan.FromTicks(1) };
        var atThreshold = new Dictionary<string, DateTimeOffset> { [cause] = Now - TimeSpan.FromSeconds(secondsInSafeMode) };

        Assert.Null(SilenceHalt.Breach(justBefore, Silences, HaltAfter, Now));
        Assert.Equal($"auto: {cause} for longer than 1 minute", SilenceHalt.Breach(atThreshold, Silences, HaltAfter, Now));
    }

    [Fact]
    public void Other_safe_mode_causes_never_halt_however_long_they_hold()
    {
        var causes = new Dictionary<string, DateTimeOffset> { ["redis-unreachable"] = Now.AddHours(-5), ["postgres-unreachable"] = Now.AddHours(-5) };

        Assert.Null(SilenceHalt.Breach(causes, Silences, HaltAfter, Now));
    }
}
