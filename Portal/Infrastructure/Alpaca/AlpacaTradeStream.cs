using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Portal.Infrastructure.Alpaca;

/// <summary>
/// Alpaca's trade-updates WebSocket: authenticate, listen to <c>trade_updates</c>, hand every
/// update to the broker in order. Paper sends binary frames, live sends text: both are UTF-8 JSON.
/// It reconnects with backoff, and each time it is listening again it asks the broker for a full
/// reconciliation by REST, so an update sent while nobody listened is not lost.
/// </summary>
public sealed class AlpacaTradeStream(
    AlpacaBroker broker, AlpacaCredentials credentials, [FromKeyedServices(ConnectionCut.Broker)] ConnectionCut network, IOptions<AlpacaOptions> options,
    TimeProvider clock, ILogger<AlpacaTradeStream> logger)
    : BackgroundService
{
    private static readonly TimeSpan MaxReconnectDelay = TimeSpan.FromSeconds(30);
    /// <summary>A connection that lasted this long was healthy: the next reconnect starts from the first delay again.</summary>
    private static readonly TimeSpan HealthyConnection = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);
    private const int MaxMessageBytes = 1 << 20;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await RunAsync(stoppingToken);
        }
        catch (Exception) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: the socket was cut by it.
        }
    }

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        var delay = options.Value.StreamReconnectDelay;
        while (!stoppingToken.IsCancellationRequested)
        {
            var connected = Stopwatch.StartNew();
            try
            {
                using var socket = new ClientWebSocket();
                // Through the broker connection's cut, like the REST calls: a network-loss drill loses both.
                using var transport = new HttpMessageInvoker(network.CreateHttpHandler());
                // Pings that expect an answer: a connection that died silently is noticed within this time.
                socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(15);
                socket.Options.KeepAliveTimeout = TimeSpan.FromSeconds(15);
                using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
                {
                    handshake.CancelAfter(HandshakeTimeout);
                    await socket.ConnectAsync(options.Value.StreamUri, transport, handshake.Token);
                    await HandshakeAsync(socket, handshake.Token);
                }
                connected.Restart();
                logger.LogInformation("Listening to Alpaca trade updates");
                broker.RequestFullReconcile();
                await ListenAsync(socket, stoppingToken);
                logger.LogWarning("Alpaca closed the trade-updates stream; reconnecting");
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("Alpaca trade-updates stream failed ({Error}: {Message}); reconnecting", ex.GetType().Name, ex.Message);
            }
            if (connected.Elapsed >= HealthyConnection) delay = options.Value.StreamReconnectDelay;
            await Task.Delay(delay * (0.8 + 0.4 * Random.Shared.NextDouble()), clock, stoppingToken);
            delay = delay * 2 < MaxReconnectDelay ? delay * 2 : MaxReconnectDelay;
        }
    }

    private async Task HandshakeAsync(ClientWebSocket socket, CancellationToken ct)
    {
        await SendAsync(socket, new { action = "authenticate", data = new { key_id = credentials.KeyId, secret_key = credentials.SecretKey } }, ct);
        var authorization = await ExpectAsync(socket, "authorization", ct);
        var status = authorization.TryGetProperty("status", out var s) ? s.GetString() : null;
        if (status != "authorized") throw new InvalidOperationException($"Alpaca refused the stream's authentication (status '{status}').");

        await SendAsync(socket, new { action = "listen", data = new { streams = new[] { "trade_updates" } } }, ct);
        var listening = await ExpectAsync(socket, "listening", ct);
        if (!listening.TryGetProperty("streams", out var streams) || streams.ValueKind != JsonValueKind.Array
            || !streams.EnumerateArray().Any(e => e.GetString() == "trade_updates"))
            throw new InvalidOperationException("Alpaca did not confirm listening to trade_updates.");
    }

    private async Task ListenAsync(ClientWebSocket socket, CancellationToken ct)
    {
        while (await ReceiveAsync(socket, ct) is { } message)
        {
            try
            {
                using var json = JsonDocument.Parse(message);
                if (Stream(json.RootElement) != "trade_updates") continue;
                var update = json.RootElement.GetProperty("data").Deserialize<AlpacaTradeUpdate>(AlpacaJson.Options)
                             ?? throw new JsonException("empty trade update");
                await broker.OnTradeUpdateAsync(update, ct);
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                // An update that cannot be read is an update lost: let REST tell what it was.
                logger.LogWarning("Unreadable Alpaca trade update ({Error}); reconciling by REST", ex.Message);
                broker.RequestFullReconcile();
            }
        }
    }

    private static string? Stream(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty("stream", out var stream) ? stream.GetString() : null;

    /// <summary>The <c>data</c> of the next message on the given stream (Alpaca may send others first).</summary>
    private static async Task<JsonElement> ExpectAsync(ClientWebSocket socket, string stream, CancellationToken ct)
    {
        while (await ReceiveAsync(socket, ct) is { } message)
        {
            using var json = JsonDocument.Parse(message);
            if (Stream(json.RootElement) == stream && json.RootElement.TryGetProperty("data", out var data)) return data.Clone();
        }
        throw new WebSocketException("Alpaca closed the stream during the handshake.");
    }

    private static async Task SendAsync(ClientWebSocket socket, object message, CancellationToken ct) =>
        await socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(message), WebSocketMessageType.Text, endOfMessage: true, ct);

    /// <summary>One whole message, text or binary; null when the server closed the connection.</summary>
    private static async Task<byte[]?> ReceiveAsync(ClientWebSocket socket, CancellationToken ct)
    {
        var buffer = new ArrayBufferWriter<byte>();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.GetMemory(4096), ct);
            if (result.MessageType == WebSocketMessageType.Close) return null;
            buffer.Advance(result.Count);
            if (buffer.WrittenCount > MaxMessageBytes) throw new WebSocketException($"An Alpaca stream message exceeded {MaxMessageBytes} bytes.");
            if (result.EndOfMessage) return buffer.WrittenMemory.ToArray();
        }
    }
}
