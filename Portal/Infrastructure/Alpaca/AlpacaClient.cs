using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Polly.Timeout;
using Portal.Domain.Broker;

namespace Portal.Infrastructure.Alpaca;

/// <summary>
/// Alpaca's trading REST API. Every failure surfaces as a <see cref="BrokerException"/> that keeps
/// Alpaca's code and message: 403/422/other 4xx are <see cref="BrokerErrorKind.Rejected"/>; 401, 429,
/// 5xx, timeouts, network errors and unreadable replies are <see cref="BrokerErrorKind.Unavailable"/>.
/// Reads are retried by the resilience pipeline (see <see cref="AlpacaSetup"/>); an order submission
/// never is: see <see cref="SubmitOrderAsync"/>.
/// </summary>
public sealed class AlpacaClient(IHttpClientFactory httpFactory, ILogger<AlpacaClient> logger)
{
    public const string HttpClientName = "alpaca";
    /// <summary>Alpaca's limit on <c>client_order_id</c>; longer ids are refused here, never trimmed.</summary>
    public const int MaxClientOrderIdLength = 48;
    private const int OpenOrdersPageSize = 500;

    public async Task<AlpacaAccount> GetAccountAsync(CancellationToken ct) => Required(await GetAsync<AlpacaAccount>("v2/account", ct), "/v2/account");

    public async Task<IReadOnlyList<AlpacaPosition>> GetPositionsAsync(CancellationToken ct) =>
        await GetAsync<List<AlpacaPosition>>("v2/positions", ct) ?? [];

    /// <summary>The position in one symbol, or null when there is none.</summary>
    public Task<AlpacaPosition?> GetPositionAsync(string symbol, CancellationToken ct) =>
        GetAsync<AlpacaPosition>($"v2/positions/{Uri.EscapeDataString(symbol)}", ct, notFoundIsNull: true);

    /// <summary>The order with our client order id, or null when Alpaca has no record of it.</summary>
    public Task<AlpacaOrder?> GetOrderByClientOrderIdAsync(string clientOrderId, CancellationToken ct) =>
        GetAsync<AlpacaOrder>($"v2/orders:by_client_order_id?client_order_id={Uri.EscapeDataString(clientOrderId)}", ct, notFoundIsNull: true);

    /// <summary>Every open order. More than one page is refused rather than read partly: a partial view would under-count exposure.</summary>
    public async Task<IReadOnlyList<AlpacaOrder>> ListOpenOrdersAsync(CancellationToken ct)
    {
        var orders = await GetAsync<List<AlpacaOrder>>($"v2/orders?status=open&limit={OpenOrdersPageSize}&direction=desc", ct) ?? [];
        if (orders.Count >= OpenOrdersPageSize)
            throw new BrokerException(BrokerErrorKind.Unavailable, "too_many_open_orders",
                $"Alpaca lists {OpenOrdersPageSize} or more open orders; Portal reads one page only and will not trust a partial view.");
        return orders;
    }

    /// <summary>The latest minute bar of each symbol from the market-data API at <paramref name="dataUri"/>; symbols without one are missing.</summary>
    public async Task<IReadOnlyDictionary<string, AlpacaBar>> GetLatestBarsAsync(Uri dataUri, IEnumerable<string> symbols, string feed, CancellationToken ct)
    {
        var query = $"v2/stocks/bars/latest?symbols={Uri.EscapeDataString(string.Join(',', symbols))}&feed={Uri.EscapeDataString(feed)}";
        return (await GetAsync<AlpacaLatestBars>(new Uri(dataUri, query).ToString(), ct))?.Bars ?? [];
    }

    public async Task<AlpacaAccountConfigurations> GetAccountConfigurationsAsync(CancellationToken ct) =>
        Required(await GetAsync<AlpacaAccountConfigurations>("v2/account/configurations", ct), "/v2/account/configurations");

    /// <summary>Sets <c>suspend_trade</c> alone (a PATCH leaves every other setting as it is) and returns what Alpaca then reports.</summary>
    public async Task<AlpacaAccountConfigurations> SetSuspendTradeAsync(bool suspend, CancellationToken ct)
    {
        try
        {
            return await SendAsync<AlpacaAccountConfigurations>(HttpMethod.Patch, "v2/account/configurations",
                       JsonContent.Create(new AlpacaAccountConfigurations { SuspendTrade = suspend }, options: AlpacaJson.Options), ct)
                   ?? throw new BrokerException(BrokerErrorKind.Unavailable, "malformed_response", "Alpaca answered PATCH /v2/account/configurations with an empty body.");
        }
        catch (AlpacaRequestException ex)
        {
            throw ex.ToBrokerException();
        }
    }

    public async Task<AlpacaClock> GetClockAsync(CancellationToken ct) => Required(await GetAsync<AlpacaClock>("v2/clock", ct), "/v2/clock");

    /// <summary>
    /// Sends a new order. It is never re-sent blindly: when the reply is lost (timeout, network
    /// error, 5xx, unreadable body) the order is looked up by client order id and sent again only
    /// if Alpaca has no record of it, at most once. A 422 for a client order id Alpaca already has
    /// returns that order, so a repeated submission is idempotent.
    /// </summary>
    public async Task<AlpacaOrder> SubmitOrderAsync(AlpacaOrderRequest request, CancellationToken ct)
    {
        if (request.ClientOrderId.Length is 0 or > MaxClientOrderIdLength)
            throw new BrokerException(BrokerErrorKind.Rejected, "client_order_id_length",
                $"The client order id must be 1 to {MaxClientOrderIdLength} characters for Alpaca (was {request.ClientOrderId.Length}).");
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await SendAsync<AlpacaOrder>(HttpMethod.Post, "v2/orders", JsonContent.Create(request, options: AlpacaJson.Options), ct)
                       ?? throw new AlpacaRequestException(null, "malformed_response", "Alpaca answered the order with an empty body.", outcomeUnknown: true);
            }
            catch (AlpacaRequestException ex) when (ex.Status == HttpStatusCode.UnprocessableEntity)
            {
                if (await GetOrderByClientOrderIdAsync(request.ClientOrderId, ct) is { } existing) return existing;
                throw ex.ToBrokerException();
            }
            catch (AlpacaRequestException ex) when (ex.OutcomeUnknown)
            {
                logger.LogWarning("Alpaca's reply to order {ClientOrderId} was lost ({Code}, attempt {Attempt}); looking it up before anything else",
                    request.ClientOrderId, ex.Code, attempt);
                // If this look-up fails too the order's fate is unknown: it must not be sent again.
                if (await GetOrderByClientOrderIdAsync(request.ClientOrderId, ct) is { } created) return created;
                if (attempt == 2)
                    throw new BrokerException(BrokerErrorKind.Unavailable, ex.Code,
                        $"Alpaca did not take the order after one re-send: {ex.Message}", ex);
                logger.LogWarning("Alpaca has no record of order {ClientOrderId}; sending it once more", request.ClientOrderId);
            }
            catch (AlpacaRequestException ex)
            {
                throw ex.ToBrokerException();
            }
        }
    }

    /// <summary>Asks Alpaca to cancel one order: false when the order is unknown or can no longer be cancelled (e.g. filled).</summary>
    public async Task<bool> CancelOrderAsync(string orderId, CancellationToken ct)
    {
        try
        {
            await SendAsync<JsonElement?>(HttpMethod.Delete, $"v2/orders/{Uri.EscapeDataString(orderId)}", null, ct);
            return true;
        }
        catch (AlpacaRequestException ex) when (ex.Status is HttpStatusCode.NotFound or HttpStatusCode.UnprocessableEntity)
        {
            return false;
        }
        catch (AlpacaRequestException ex)
        {
            throw ex.ToBrokerException();
        }
    }

    /// <summary>Cancel every open order: one entry per order (207 multi-status); entries may mix success and failure.</summary>
    public async Task<IReadOnlyList<AlpacaBatchItem>> CancelAllOrdersAsync(CancellationToken ct) =>
        await BatchAsync("v2/orders", ct);

    /// <summary>Cancel every open order and close every position at market: one entry per position (207 multi-status).</summary>
    public async Task<IReadOnlyList<AlpacaBatchItem>> CloseAllPositionsAsync(CancellationToken ct) =>
        await BatchAsync("v2/positions?cancel_orders=true", ct);

    private async Task<IReadOnlyList<AlpacaBatchItem>> BatchAsync(string path, CancellationToken ct)
    {
        try
        {
            return await SendAsync<List<AlpacaBatchItem>>(HttpMethod.Delete, path, null, ct) ?? [];
        }
        catch (AlpacaRequestException ex)
        {
            throw ex.ToBrokerException();
        }
    }

    private static T Required<T>(T? value, string path) where T : class =>
        value ?? throw new BrokerException(BrokerErrorKind.Unavailable, "malformed_response", $"Alpaca answered GET {path} with an empty body.");

    private async Task<T?> GetAsync<T>(string path, CancellationToken ct, bool notFoundIsNull = false)
    {
        try
        {
            return await SendAsync<T>(HttpMethod.Get, path, null, ct);
        }
        catch (AlpacaRequestException ex) when (notFoundIsNull && ex.Status == HttpStatusCode.NotFound)
        {
            return default;
        }
        catch (AlpacaRequestException ex)
        {
            throw ex.ToBrokerException();
        }
    }

    private async Task<T?> SendAsync<T>(HttpMethod method, string path, HttpContent? content, CancellationToken ct)
    {
        var http = httpFactory.CreateClient(HttpClientName);
        using var request = new HttpRequestMessage(method, path) { Content = content };
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        }
        catch (TimeoutRejectedException ex)
        {
            throw new AlpacaRequestException(null, "timeout", $"Alpaca did not answer {method} {Describe(path)} in time.", outcomeUnknown: true, ex);
        }
        catch (HttpRequestException ex)
        {
            throw new AlpacaRequestException(null, "network", $"Alpaca could not be reached for {method} {Describe(path)}: {ex.Message}", outcomeUnknown: true, ex);
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new AlpacaRequestException(null, "timeout", $"Alpaca did not answer {method} {Describe(path)} in time.", outcomeUnknown: true, ex);
        }

        using (response)
        {
            var body = await response.Content.ReadAsByteArrayAsync(ct);
            if (!response.IsSuccessStatusCode) throw AlpacaRequestException.FromReply(response.StatusCode, body);
            if (body.Length == 0) return default;
            try
            {
                return JsonSerializer.Deserialize<T>(body, AlpacaJson.Options);
            }
            catch (JsonException ex)
            {
                throw new AlpacaRequestException(null, "malformed_response",
                    $"Alpaca's reply to {method} {Describe(path)} is not the JSON Portal expects ({ex.Message}).", outcomeUnknown: true, ex);
            }
        }
    }

    /// <summary>The path without its query (which may carry a client order id: fine, but noise in messages).</summary>
    private static string Describe(string path) => Uri.TryCreate(path, UriKind.Absolute, out var absolute) ? absolute.GetLeftPart(UriPartial.Path) : "/" + path.Split('?')[0];
}

/// <summary>A failed request as the client sees it, before it becomes a <see cref="BrokerException"/>.</summary>
internal sealed class AlpacaRequestException(HttpStatusCode? status, string code, string message, bool outcomeUnknown, Exception? inner = null)
    : Exception(message, inner)
{
    public HttpStatusCode? Status { get; } = status;
    public string Code { get; } = code;
    /// <summary>The request may or may not have taken effect (no reply, a 5xx, or an unreadable one).</summary>
    public bool OutcomeUnknown { get; } = outcomeUnknown;

    public BrokerException ToBrokerException()
    {
        var rejected = Status is { } s && (int)s is >= 400 and < 500 && s is not (HttpStatusCode.Unauthorized or HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout);
        return new BrokerException(rejected ? BrokerErrorKind.Rejected : BrokerErrorKind.Unavailable, Code, Message, this);
    }

    /// <summary>Alpaca's error body is usually <c>{"code": 40310000, "message": "..."}</c>; the code may be missing (a 401 is often just a message).</summary>
    public static AlpacaRequestException FromReply(HttpStatusCode status, byte[] body)
    {
        string? code = null, message = null;
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object)
            {
                if (json.RootElement.TryGetProperty("code", out var c) && c.ValueKind is JsonValueKind.Number or JsonValueKind.String) code = c.ToString();
                if (json.RootElement.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String) message = m.GetString();
            }
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's HTML page, say): the status alone is reported, never the body.
        }
        return new AlpacaRequestException(status, code ?? $"http_{(int)status}", message ?? $"Alpaca answered HTTP {(int)status}.",
            outcomeUnknown: (int)status >= 500);
    }
}
