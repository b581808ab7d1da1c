using System.Net;
using Microsoft.Extensions.Options;

namespace Portal.Infrastructure.Alpaca;

/// <summary>
/// <c>Broker:Alpaca:*</c>. The key pair comes from <c>KeyId</c>/<c>SecretKey</c> (environment
/// <c>Broker__Alpaca__KeyId</c>/<c>Broker__Alpaca__SecretKey</c>, or Alpaca's own <c>APCA_API_KEY_ID</c>/
/// <c>APCA_API_SECRET_KEY</c>) or from <c>SecretsFile</c>, never from both.
/// </summary>
public sealed class AlpacaOptions
{
    public const string Section = "Broker:Alpaca";
    public const string PaperUrl = "https://paper-api.alpaca.markets";
    public const string PaperHost = "paper-api.alpaca.markets";
    public const string MarketDataHost = "data.alpaca.markets";
    public const string MarketDataRestDefault = "https://" + MarketDataHost;

    /// <summary>Trading API root; paper by default. Anything else counts as live (see <see cref="AlpacaOptionsValidator"/>).</summary>
    public string BaseUrl { get; set; } = PaperUrl;
    /// <summary>Trade-updates WebSocket; by default the base URL's host with ws(s) and <c>/stream</c>.</summary>
    public string? StreamUrl { get; set; }

    public string? KeyId { get; set; }
    public string? SecretKey { get; set; }
    /// <summary>A file of <c>APCA_API_KEY_ID=…</c> and <c>APCA_API_SECRET_KEY=…</c> lines (a Docker or Kubernetes secret).</summary>
    public string? SecretsFile { get; set; }

    /// <summary>One HTTP attempt; an order submission gets exactly this long before Portal looks it up.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>A read with all its retries.</summary>
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromSeconds(20);
    /// <summary>
    /// An accepted order still not sent this long after its decision, and unknown to Alpaca, was left unsent by an instance
    /// that stopped: it becomes submit_failed (see UnsentOrderResolver). At least twice <see cref="TotalTimeout"/>, so an
    /// order still on its way is never taken for one.
    /// </summary>
    public TimeSpan UnsentOrderTimeout { get; set; } = TimeSpan.FromMinutes(2);
    /// <summary>Retries of a read after 429, 5xx or a timeout (orders are never retried this way).</summary>
    public int MaxRetries { get; set; } = 3;
    /// <summary>First retry delay, doubled with jitter each time, unless Alpaca says how long to wait.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Account, positions and open orders are refreshed this often (3 requests; Alpaca allows 200 a minute).</summary>
    public TimeSpan SyncInterval { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>Refreshes asked for after fills come no closer together than this.</summary>
    public TimeSpan MinSyncGap { get; set; } = TimeSpan.FromSeconds(2);
    /// <summary>After this many failed refreshes in a row the portfolio is reported unavailable (so safe mode engages).</summary>
    public int FailuresBeforeStale { get; set; } = 3;
    /// <summary>A portfolio older than this is reported unavailable, however the refreshes fail (a hung connection too).</summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>First delay before reconnecting the trade-updates stream, doubled up to 30 s.</summary>
    public TimeSpan StreamReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>Alpaca's market-data stream feeds Portal's prices (off only when another feeder posts ticks).</summary>
    public bool MarketDataEnabled { get; set; } = true;
    /// <summary><c>iex</c> (the free plan) or <c>sip</c>.</summary>
    public string MarketDataFeed { get; set; } = "iex";
    /// <summary>Market-data WebSocket; by default <c>wss://stream.data.alpaca.markets/v2/{feed}</c>.</summary>
    public string? MarketDataStreamUrl { get; set; }
    /// <summary>Market-data REST API: every instance reads the latest bar of each symbol there at start-up.</summary>
    public string MarketDataRestUrl { get; set; } = MarketDataRestDefault;
    /// <summary>How often an instance not streaming tries to take the stream's lease (so a takeover comes within this).</summary>
    public TimeSpan MarketDataLeaseRetry { get; set; } = TimeSpan.FromSeconds(2);
    /// <summary>
    /// How often each instance reads Alpaca's market clock (<c>GET /v2/clock</c>), so market-data silence while the market is
    /// closed does not halt trading. A reading is trusted for three intervals; the close and the open it announces take
    /// effect on time between readings.
    /// </summary>
    public TimeSpan MarketClockInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long a flatten waits for Alpaca's closing orders to fill before reporting them as not closed yet.</summary>
    public TimeSpan CloseFillWait { get; set; } = TimeSpan.FromSeconds(3);

    public Uri BaseUri => new(BaseUrl.EndsWith('/') ? BaseUrl : BaseUrl + "/");

    public Uri StreamUri => StreamUrl is { Length: > 0 } explicitUrl
        ? new Uri(explicitUrl)
        : new UriBuilder(BaseUri) { Scheme = BaseUri.Scheme == Uri.UriSchemeHttps ? "wss" : "ws", Path = "/stream", Port = BaseUri.IsDefaultPort ? -1 : BaseUri.Port }.Uri;

    public Uri MarketDataStreamUri => new(MarketDataStreamUrl is { Length: > 0 } explicitUrl ? explicitUrl : $"wss://stream.data.alpaca.markets/v2/{MarketDataFeed}");

    public Uri MarketDataRestUri => new(MarketDataRestUrl.EndsWith('/') ? MarketDataRestUrl : MarketDataRestUrl + "/");

    /// <summary>Alpaca's market-data API: prices only, the same for paper and live accounts, so no phase gates it.</summary>
    public static bool IsMarketData(Uri uri) => string.Equals(uri.Host, MarketDataHost, StringComparison.OrdinalIgnoreCase);

    /// <summary>Paper trading, or a server on this machine (a test double): neither can move real money.</summary>
    public static bool IsPaperOrLocal(Uri uri) => string.Equals(uri.Host, PaperHost, StringComparison.OrdinalIgnoreCase) || IsLocal(uri);

    public static bool IsLocal(Uri uri) => uri.IsLoopback || (IPAddress.TryParse(uri.Host, out var ip) && IPAddress.IsLoopback(ip));
}

/// <summary>The key pair, resolved once. Its values are never formatted into any message.</summary>
public sealed class AlpacaCredentials
{
    private AlpacaCredentials(string keyId, string secretKey) { KeyId = keyId; SecretKey = secretKey; }

    internal string KeyId { get; }
    internal string SecretKey { get; }

    public override string ToString() => "Alpaca credentials (redacted)";

    public const string FileKeyId = "APCA_API_KEY_ID";
    public const string FileSecretKey = "APCA_API_SECRET_KEY";

    /// <summary>The credentials, or a problem that names the configuration key (never a value).</summary>
    public static (AlpacaCredentials? Credentials, string? Problem) Resolve(AlpacaOptions options)
    {
        var inline = !string.IsNullOrWhiteSpace(options.KeyId) || !string.IsNullOrWhiteSpace(options.SecretKey);
        if (options.SecretsFile is { Length: > 0 } path)
        {
            if (inline)
                return (null, $"{AlpacaOptions.Section}:SecretsFile is set together with {AlpacaOptions.Section}:KeyId/SecretKey " +
                              $"(or {FileKeyId}/{FileSecretKey}); configure the keys one way only.");
            string[] lines;
            try
            {
                lines = File.ReadAllLines(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                return (null, $"{AlpacaOptions.Section}:SecretsFile '{path}' cannot be read ({ex.GetType().Name}).");
            }
            var values = lines.Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))
                .Select(l => l.Split('=', 2)).Where(p => p.Length == 2)
                .GroupBy(p => p[0].Trim(), StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last()[1].Trim(), StringComparer.Ordinal);
            return values.GetValueOrDefault(FileKeyId) is { Length: > 0 } fileKeyId && values.GetValueOrDefault(FileSecretKey) is { Length: > 0 } fileSecret
                ? (new AlpacaCredentials(fileKeyId, fileSecret), null)
                : (null, $"{AlpacaOptions.Section}:SecretsFile '{path}' must contain a {FileKeyId}=… line and a {FileSecretKey}=… line.");
        }
        return options is { KeyId: { Length: > 0 } keyId, SecretKey: { Length: > 0 } secret } && !string.IsNullOrWhiteSpace(keyId) && !string.IsNullOrWhiteSpace(secret)
            ? (new AlpacaCredentials(keyId.Trim(), secret.Trim()), null)
            : (null, $"{AlpacaOptions.Section}:KeyId and {AlpacaOptions.Section}:SecretKey (or {FileKeyId} and {FileSecretKey}, " +
                     $"or {AlpacaOptions.Section}:SecretsFile) are required when Broker:Kind is Alpaca.");
    }
}

/// <summary>Refuses start-up naming each bad key; a live URL needs <c>Broker:AllowLive=true</c>.</summary>
public sealed class AlpacaOptionsValidator(IConfiguration configuration) : IValidateOptions<AlpacaOptions>
{
    public ValidateOptionsResult Validate(string? name, AlpacaOptions o)
    {
        var errors = new List<string>();
        var s = AlpacaOptions.Section;
        if (!Uri.TryCreate(o.BaseUrl, UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("https" or "http"))
            errors.Add($"{s}:BaseUrl must be an absolute https URL (was '{o.BaseUrl}').");
        else
        {
            // The keys travel in headers: in clear only to a server on this machine.
            if (baseUri.Scheme == "http" && !AlpacaOptions.IsLocal(baseUri))
                errors.Add($"{s}:BaseUrl must use https (was '{o.BaseUrl}').");
            if (!AlpacaOptions.IsPaperOrLocal(baseUri) && !configuration.GetValue<bool>("Broker:AllowLive"))
                errors.Add($"{s}:BaseUrl '{o.BaseUrl}' is not Alpaca's paper URL ({AlpacaOptions.PaperUrl}): live trading is refused unless Broker:AllowLive is true.");
        }
        if (o.StreamUrl is { Length: > 0 } && (!Uri.TryCreate(o.StreamUrl, UriKind.Absolute, out var streamUri) || streamUri.Scheme is not ("wss" or "ws")
                                               || streamUri.Scheme == "ws" && !AlpacaOptions.IsLocal(streamUri)))
            errors.Add($"{s}:StreamUrl must be an absolute wss URL (was '{o.StreamUrl}').");
        if (o.MarketDataStreamUrl is { Length: > 0 } && (!Uri.TryCreate(o.MarketDataStreamUrl, UriKind.Absolute, out var dataUri) || dataUri.Scheme is not ("wss" or "ws")
                                                         || dataUri.Scheme == "ws" && !AlpacaOptions.IsLocal(dataUri)))
            errors.Add($"{s}:MarketDataStreamUrl must be an absolute wss URL (was '{o.MarketDataStreamUrl}').");
        if (!Uri.TryCreate(o.MarketDataRestUrl, UriKind.Absolute, out var restUri) || restUri.Scheme is not ("https" or "http")
            || restUri.Scheme == "http" && !AlpacaOptions.IsLocal(restUri))
            errors.Add($"{s}:MarketDataRestUrl must be an absolute https URL (was '{o.MarketDataRestUrl}').");
        if (o.MarketDataFeed is not ("iex" or "sip")) errors.Add($"{s}:MarketDataFeed must be iex or sip (was '{o.MarketDataFeed}').");
        if (AlpacaCredentials.Resolve(o).Problem is { } problem) errors.Add(problem);

        void Range(TimeSpan value, string key, TimeSpan min, TimeSpan max)
        {
            if (value < min || value > max) errors.Add($"{s}:{key} must be between {min} and {max} (was {value}).");
        }
        Range(o.RequestTimeout, nameof(o.RequestTimeout), TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(2));
        Range(o.TotalTimeout, nameof(o.TotalTimeout), o.RequestTimeout, TimeSpan.FromMinutes(5));
        Range(o.UnsentOrderTimeout, nameof(o.UnsentOrderTimeout), 2 * o.TotalTimeout, TimeSpan.FromHours(1));
        Range(o.RetryDelay, nameof(o.RetryDelay), TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(1));
        Range(o.SyncInterval, nameof(o.SyncInterval), TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(5));
        Range(o.MinSyncGap, nameof(o.MinSyncGap), TimeSpan.Zero, o.SyncInterval);
        Range(o.StaleAfter, nameof(o.StaleAfter), o.SyncInterval, TimeSpan.FromHours(1));
        Range(o.StreamReconnectDelay, nameof(o.StreamReconnectDelay), TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(30));
        Range(o.CloseFillWait, nameof(o.CloseFillWait), TimeSpan.Zero, TimeSpan.FromMinutes(1));
        Range(o.MarketDataLeaseRetry, nameof(o.MarketDataLeaseRetry), TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(1));
        Range(o.MarketClockInterval, nameof(o.MarketClockInterval), TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(15));
        if (o.MaxRetries is < 0 or > 10) errors.Add($"{s}:MaxRetries must be between 0 and 10 (was {o.MaxRetries}).");
        if (o.FailuresBeforeStale is < 1 or > 100) errors.Add($"{s}:FailuresBeforeStale must be between 1 and 100 (was {o.FailuresBeforeStale}).");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
