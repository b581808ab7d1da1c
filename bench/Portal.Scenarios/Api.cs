using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Portal.Scenarios;

/// <summary>What Portal answered: status (0 = no answer: connection refused, reset or timed out), the problem's reason, latency.</summary>
public readonly record struct Answer(int Status, string? Reason, double LatencyMs, string? ContentType = null)
{
    public bool Refused(string reasonPrefix) => Reason?.StartsWith(reasonPrefix, StringComparison.Ordinal) == true;
}

/// <summary>HTTP to one Portal instance with one API key; many concurrent requests over pooled connections.</summary>
public sealed class Api : IDisposable
{
    private readonly HttpClient _http;

    public Api(Uri baseUrl, string? apiKey, TimeSpan? timeout = null)
    {
        BaseUrl = baseUrl;
        _http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = baseUrl,
            Timeout = timeout ?? TimeSpan.FromSeconds(10),
        };
        if (apiKey is not null) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
    }

    public Uri BaseUrl { get; }

    public Task<Answer> PostOrderAsync(string json) => SendAsync(HttpMethod.Post, "api/orders", json);

    /// <summary>The body of a success is not read (an audit export can be large); a problem's is, for its reason.</summary>
    public async Task<Answer> SendAsync(HttpMethod method, string path, string? json = null, IEnumerable<KeyValuePair<string, string>>? headers = null) =>
        (await SendAsync(method, path, json, headers, readSuccessBody: false)).Answer;

    /// <summary>A POST whose reply body is needed.</summary>
    public Task<(Answer Answer, string? Body)> PostForBodyAsync(string path, string json) =>
        SendAsync(HttpMethod.Post, path, json, headers: null, readSuccessBody: true);

    /// <summary>The answer and the reply's body read; the body is null when there was no answer or it was not read.</summary>
    private async Task<(Answer Answer, string? Body)> SendAsync(HttpMethod method, string path, string? json,
        IEnumerable<KeyValuePair<string, string>>? headers, bool readSuccessBody)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        foreach (var (name, value) in headers ?? []) request.Headers.TryAddWithoutValidation(name, value);
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await _http.SendAsync(request);
            var status = (int)response.StatusCode;
            var body = readSuccessBody || status >= 400 ? await response.Content.ReadAsStringAsync() : null;
            return (new Answer(status, status >= 400 ? ReasonOf(body!) : null, Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                response.Content.Headers.ContentType?.MediaType), body);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            return (new Answer(0, ex.GetType().Name, Stopwatch.GetElapsedTime(started).TotalMilliseconds), null);
        }
    }

    public async Task<JsonDocument> GetJsonAsync(string path, HttpMethod? method = null)
    {
        using var response = await _http.SendAsync(new HttpRequestMessage(method ?? HttpMethod.Get, path));
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync());
    }

    /// <summary>The problem's stable <c>reason</c> code, else its title (400s name fields instead of a reason).</summary>
    private static string? ReasonOf(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return null;
            if (doc.RootElement.TryGetProperty("reason", out var reason) && reason.ValueKind == JsonValueKind.String) return reason.GetString();
            return doc.RootElement.TryGetProperty("title", out var title) && title.ValueKind == JsonValueKind.String ? title.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public void Dispose() => _http.Dispose();
}

public static class Orders
{
    public static readonly string[] Symbols = ["AAPL", "MSFT", "SPY", "QQQ", "NVDA", "AMZN", "GOOGL", "META", "JPM", "TSLA"];

    public static string Market(string clientOrderId, string strategyId, string symbol, string side, decimal quantity) =>
        $$"""{"clientOrderId":"{{clientOrderId}}","strategyId":"{{strategyId}}","symbol":"{{symbol}}","side":"{{side}}","quantity":{{quantity.ToString(CultureInfo.InvariantCulture)}},"type":"market","timeInForce":"day"}""";

    public static string Limit(string clientOrderId, string strategyId, string symbol, string side, decimal quantity, string limitPrice) =>
        $$"""{"clientOrderId":"{{clientOrderId}}","strategyId":"{{strategyId}}","symbol":"{{symbol}}","side":"{{side}}","quantity":{{quantity.ToString(CultureInfo.InvariantCulture)}},"type":"limit","limitPrice":{{limitPrice}},"timeInForce":"day"}""";

    private static long _probe;

    /// <summary>A small valid market order with a new id (alternating sides keep the position near zero).</summary>
    public static string Probe(string runId, string strategyId, out string clientOrderId)
    {
        var n = Interlocked.Increment(ref _probe);
        clientOrderId = $"{runId}-p{n}";
        return Market(clientOrderId, strategyId, Symbols[n % Symbols.Length], n % 2 == 0 ? "buy" : "sell", 1);
    }
}
