using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Portal.Infrastructure.Alpaca;
using Portal.Tests.Features.Configuration;

namespace Portal.Tests.Infrastructure.Alpaca;

/// <summary>What start-up accepts and refuses for <c>Broker:Alpaca:*</c>; every refusal names the key, none shows a secret.</summary>
public sealed class AlpacaOptionsTests : IDisposable
{
    private const string Secret = "optionsSecret-Hk3Jd8Qw2Ze5";
    private readonly string _directory = Directory.CreateTempSubdirectory("portal-alpaca-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static IReadOnlyList<string> Validate(AlpacaOptions options, bool allowLive = false)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Broker:AllowLive"] = allowLive ? "true" : null }).Build();
        var result = new AlpacaOptionsValidator(configuration).Validate(null, options);
        Assert.All(result.Failures ?? [], f => Assert.DoesNotContain(Secret, f));
        return result.Failures?.ToList() ?? [];
    }

    private static AlpacaOptions WithKeys(string? baseUrl = null) => new() { BaseUrl = baseUrl ?? AlpacaOptions.PaperUrl, KeyId = "PKOPTIONS1", SecretKey = Secret };

    [Fact]
    public void The_paper_URL_with_keys_is_accepted() => Assert.Empty(Validate(WithKeys()));

    [Fact]
    public void A_live_URL_is_refused_unless_live_trading_is_allowed()
    {
        var failure = Assert.Single(Validate(WithKeys("https://api.alpaca.markets")));
        Assert.Contains("Broker:Alpaca:BaseUrl", failure);
        Assert.Contains("Broker:AllowLive", failure);

        Assert.Empty(Validate(WithKeys("https://api.alpaca.markets"), allowLive: true));
    }

    [Theory]
    [InlineData("http://paper-api.alpaca.markets")]
    [InlineData("ftp://paper-api.alpaca.markets")]
    [InlineData("not a url")]
    public void A_base_URL_that_would_send_the_keys_in_clear_or_is_not_HTTP_is_refused(string url) =>
        Assert.Contains(Validate(WithKeys(url)), f => f.Contains("Broker:Alpaca:BaseUrl", StringComparison.Ordinal));

    [Theory]
    [InlineData("http://data.alpaca.markets")]
    [InlineData("not a url")]
    public void A_market_data_URL_that_would_send_the_keys_in_clear_or_is_not_HTTP_is_refused(string url)
    {
        var options = WithKeys();
        options.MarketDataRestUrl = url;
        Assert.Contains("Broker:Alpaca:MarketDataRestUrl", Assert.Single(Validate(options)));
    }

    [Fact]
    public void A_server_on_this_machine_may_use_plain_HTTP_and_is_not_live() => Assert.Empty(Validate(WithKeys("http://127.0.0.1:5099")));

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("00:30:00")]
    public void A_market_clock_interval_out_of_range_is_named(string interval)
    {
        var options = WithKeys();
        options.MarketClockInterval = TimeSpan.Parse(interval, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains("Broker:Alpaca:MarketClockInterval", Assert.Single(Validate(options)));
    }

    [Fact]
    public void Missing_keys_are_named()
    {
        var failure = Assert.Single(Validate(new AlpacaOptions { KeyId = "PKONLYID" }));
        Assert.Contains("Broker:Alpaca:KeyId", failure);
        Assert.Contains("Broker:Alpaca:SecretKey", failure);
    }

    [Fact]
    public void Keys_are_read_from_a_secrets_file()
    {
        var path = Path.Combine(_directory, "alpaca.env");
        File.WriteAllLines(path, ["# paper account", "APCA_API_KEY_ID=PKFROMFILE", $"APCA_API_SECRET_KEY={Secret}", ""]);

        var (credentials, problem) = AlpacaCredentials.Resolve(new AlpacaOptions { SecretsFile = path });

        Assert.Null(problem);
        Assert.Equal("PKFROMFILE", credentials!.KeyId);
        Assert.Equal(Secret, credentials.SecretKey);
        Assert.DoesNotContain(Secret, credentials.ToString());
    }

    [Fact]
    public void A_secrets_file_that_is_missing_incomplete_or_doubled_by_inline_keys_is_named()
    {
        var incomplete = Path.Combine(_directory, "incomplete.env");
        File.WriteAllLines(incomplete, [$"APCA_API_SECRET_KEY={Secret}"]);

        Assert.Contains("Broker:Alpaca:SecretsFile", Assert.Single(Validate(new AlpacaOptions { SecretsFile = Path.Combine(_directory, "none.env") })));
        Assert.Contains("APCA_API_KEY_ID", Assert.Single(Validate(new AlpacaOptions { SecretsFile = incomplete })));
        Assert.Contains("one way only", Assert.Single(Validate(new AlpacaOptions { SecretsFile = incomplete, KeyId = "PKINLINE" })));
    }

    [Fact]
    public void Alpacas_own_environment_variable_names_are_honoured()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["APCA_API_KEY_ID"] = "PKFROMENV", ["APCA_API_SECRET_KEY"] = Secret,
        }).Build());
        services.AddSingleton(TimeProvider.System);
        services.AddLogging();
        services.AddAlpacaClient();
        using var provider = services.BuildServiceProvider();

        Assert.Equal("PKFROMENV", provider.GetRequiredService<AlpacaCredentials>().KeyId);
        Assert.Equal(AlpacaOptions.PaperUrl + "/", provider.GetRequiredService<IOptions<AlpacaOptions>>().Value.BaseUri.ToString());
    }

    [Fact]
    public async Task Portal_refuses_to_start_on_a_live_URL_naming_the_key_and_never_printing_the_secret()
    {
        var (exitCode, output) = await StartupValidationTests.RunPortalAsync(
            ("Broker__Kind", "Alpaca"), ("Broker__Alpaca__BaseUrl", "https://api.alpaca.markets"),
            ("Broker__Alpaca__KeyId", "PKLIVE"), ("Broker__Alpaca__SecretKey", Secret));

        Assert.NotEqual(0, exitCode);
        Assert.Contains("Broker:AllowLive", output);
        Assert.DoesNotContain(Secret, output);
    }
}
