using System.Diagnostics;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Configuration;

/// <summary>Invalid configuration stops the real process before it serves anything, naming the key.</summary>
public sealed class StartupValidationTests
{
    internal static async Task<(int ExitCode, string Output)> RunPortalAsync(params (string Key, string Value)[] environment)
    {
        var portalDll = Path.Combine(AppContext.BaseDirectory, "Portal.dll");
        var info = new ProcessStartInfo("dotnet", $"\"{portalDll}\" --urls http://127.0.0.1:0")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        var services = await TestServices.GetAsync();
        info.Environment["ConnectionStrings__Postgres"] = services.Postgres.ConnectionString("portal_template", "portal_app", PostgresServer.AppPassword);
        info.Environment["ConnectionStrings__Redis"] = services.Redis.ConnectionString;
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        // Everything else valid, so the failure can only come from the variable under test.
        info.Environment["Audit__SigningKeyPem"] = PortalFactory.AuditSigningKeyPem;
        info.Environment["DataProtection__CertificatePem"] = PortalFactory.DataProtectionCertificatePem;
        info.Environment["Audit__CheckpointFile"] = Path.Combine(Path.GetTempPath(), "portal-tests", $"startup-{Guid.NewGuid():N}.jsonl");
        info.Environment["Hangfire__ServerEnabled"] = "false";
        foreach (var (key, value) in environment) info.Environment[key] = value;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("Portal kept running with invalid configuration.");
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    [Theory]
    [InlineData("Risk__Ceilings__MaxPositionSizeUsd", "250000", "Risk:Ceilings:MaxPositionSizeUsd")]
    [InlineData("Risk__Ceilings__MaxLeverage", "-1", "Risk:Ceilings:MaxLeverage")]
    [InlineData("Risk__InitialLimits__MaxOrderValueUsd", "20000", "Risk:InitialLimits:MaxOrderValueUsd")]
    [InlineData("TradingState__SilenceHaltThreshold", "00:00:01", "TradingState:SilenceHaltThreshold")]
    [InlineData("TradingState__BrokerKillPathInterval", "00:00:00", "TradingState:BrokerKillPathInterval")]
    [InlineData("Market__Symbols__0__Symbol", "bad symbol", "Market:Symbols:0:Symbol")]
    [InlineData("MarketData__MaxBatchSize", "0", "MarketData:MaxBatchSize")]
    [InlineData("MarketData__Rules__MaxPrice", "0.001", "MarketData:Rules")]
    [InlineData("SignIn__RememberDeviceFor", "365.00:00:00", "SignIn:RememberDeviceFor")]
    [InlineData("Passkeys__ServerDomain", "https://portal.example.com", "Passkeys:ServerDomain")]
    [InlineData("Passkeys__AllowedOrigins__0", "portal.example.com", "Passkeys:AllowedOrigins")]
    [InlineData("MarketData__Symbols__AAPL__SpikeWindow", "2", "MarketData:Symbols:AAPL")]
    [InlineData("ModelDrift__CheckCron", "every night", "ModelDrift:CheckCron")]
    [InlineData("Metrics__AllowedNetworks", "10.0.0.0/8,10.1.2.3/40", "Metrics:AllowedNetworks")]
    [InlineData("Metrics__ScrapeToken", "too-short", "Metrics:ScrapeToken")]
    [InlineData("DataProtection__CertificatePem", "", "DataProtection:CertificatePath")]
    [InlineData("DataProtection__CertificatePem", "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----", "DataProtection:CertificatePem")]
    [InlineData("ApiKeys__MaxOrdersPerMinutePerKey", "0", "ApiKeys:MaxOrdersPerMinutePerKey")]
    [InlineData("Hangfire__SchedulePollingInterval", "00:00:00.100", "Hangfire:SchedulePollingInterval")]
    [InlineData("Broker__MinRefreshInterval", "00:00:02", "Broker:MinRefreshInterval")]
    [InlineData("Live__MaxBatchAge", "00:00:00.500", "Live:MaxBatchAge")]
    [InlineData("Audit__RepeatedSecurityEventsWindow", "02:00:00", "Audit:RepeatedSecurityEventsWindow")]
    public async Task An_invalid_value_stops_start_up_with_a_message_naming_the_key(string variable, string value, string key)
    {
        var (exitCode, output) = await RunPortalAsync((variable, value));

        Assert.NotEqual(0, exitCode);
        Assert.Contains(key, output);
    }

    [Fact]
    public async Task A_value_that_is_not_a_number_names_the_key()
    {
        var (exitCode, output) = await RunPortalAsync(("Risk__Ceilings__MaxOrderValueUsd", "lots"));

        Assert.NotEqual(0, exitCode);
        Assert.Contains("Risk:Ceilings:MaxOrderValueUsd", output);
    }
}
