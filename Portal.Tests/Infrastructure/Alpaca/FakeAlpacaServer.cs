using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Portal.Tests.Infrastructure.Alpaca;

/// <summary>
/// Alpaca's trading API as documented, on loopback (Kestrel, port 0): numbers as JSON strings,
/// timestamps with nanoseconds, <c>{"code","message"}</c> errors, 207 multi-status bodies, and the
/// trade-updates WebSocket (binary frames, like paper). Market orders fill at once at the symbol's
/// price while <see cref="MarketOpen"/> (the reply still says <c>accepted</c>; the fill comes on the
/// stream, as at Alpaca); limit orders rest until <see cref="Fill"/>. Failures are scripted per route with <see cref="Script"/>.
/// </summary>
public sealed class FakeAlpacaServer : IAsyncDisposable
{
    public const string KeyId = "PKFAKE7Q2M9XV4LP8RTW";
    public const string SecretKey = "fakeSecret-Zq9xW3nB7vK2mL5pR8tY1uE4";

    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private readonly List<FakeOrder> _orders = [];
    private readonly Dictionary<string, FakePosition> _positions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, decimal> _prices = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentQueue<Fault>> _faults = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly List<Subscriber> _subscribers = [];
    private readonly Channel<(string Json, Subscriber[] To)> _events = Channel.CreateUnbounded<(string, Subscriber[])>();
    private readonly Task _pump;
    private int _listens, _refusedStreams, _delivered, _lost;

    private FakeAlpacaServer()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        _app = builder.Build();
        _app.UseWebSockets();
        _app.Use(ScriptedFaultsAsync);
        MapRoutes(_app);
        _pump = Task.Run(PumpEventsAsync);
    }

    public static async Task<FakeAlpacaServer> StartAsync()
    {
        var server = new FakeAlpacaServer();
        await server._app.StartAsync();
        var address = server._app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        server.BaseUrl = new Uri(address);
        return server;
    }

    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Every REST request Alpaca would answer 401 (keys revoked).</summary>
    public bool RejectKeys { get; set; }
    /// <summary>Every REST request fails with this status (an outage), until set back to null.</summary>
    public int? FailEverything { get; set; }
    /// <summary>New stream connections are refused (503).</summary>
    public bool RefuseStream { get; set; }
    /// <summary>While false, market orders (closing ones too) wait instead of filling, as they queue for the open.</summary>
    public bool MarketOpen { get; set; } = true;
    /// <summary>The account setting <c>suspend_trade</c>: while on, every new order is refused with 403.</summary>
    public bool SuspendTrade { get => Volatile.Read(ref _suspendTrade); set => Volatile.Write(ref _suspendTrade, value); }
    private bool _suspendTrade;
    public decimal Cash { get { lock (_gate) return _cash; } set { lock (_gate) _cash = value; } }
    private decimal _cash = 100_000m;
    /// <summary>close-all answers these symbols with an error entry.</summary>
    public ConcurrentDictionary<string, string> CloseRefusals { get; } = new(StringComparer.Ordinal);
    /// <summary>cancel-all answers these client order ids with an error entry.</summary>
    public ConcurrentDictionary<string, string> CancelRefusals { get; } = new(StringComparer.Ordinal);

    public int Listens => Volatile.Read(ref _listens);
    /// <summary>Stream connections refused while <see cref="RefuseStream"/> was on.</summary>
    public int RefusedStreams => Volatile.Read(ref _refusedStreams);
    public int DeliveredEvents => Volatile.Read(ref _delivered);
    public int LostEvents => Volatile.Read(ref _lost);

    /// <summary>The latest minute bars the market-data REST API serves, by symbol (close and start time).</summary>
    public ConcurrentDictionary<string, (decimal Close, DateTimeOffset Time)> LatestBars { get; } = new(StringComparer.Ordinal);

    public void SetPrice(string symbol, decimal price)
    {
        lock (_gate) _prices[symbol] = price;
    }

    /// <summary>The next requests to "METHOD /path" (no query) get these faults, one each, in order.</summary>
    public void Script(string route, params Fault[] faults)
    {
        var queue = _faults.GetOrAdd(route, _ => new ConcurrentQueue<Fault>());
        foreach (var fault in faults) queue.Enqueue(fault);
    }

    public int Count(string route) => _requests.Count(r => r == route);

    public IReadOnlyList<FakeOrder> Orders { get { lock (_gate) return _orders.Select(o => o.Copy()).ToList(); } }

    public IReadOnlyDictionary<string, decimal> Positions { get { lock (_gate) return _positions.ToDictionary(p => p.Key, p => p.Value.Qty); } }

    /// <summary>Fills (the rest of) a resting order at the symbol's price.</summary>
    public void Fill(string clientOrderId, decimal? quantity = null)
    {
        lock (_gate)
        {
            var order = _orders.Single(o => o.ClientOrderId == clientOrderId);
            FillLocked(order, quantity ?? order.Qty - order.FilledQty);
        }
    }

    /// <summary>An order as REST shows it, changed by <paramref name="change"/>: the body of a stale reply to script.</summary>
    public string OrderBody(string clientOrderId, Action<FakeOrder> change)
    {
        FakeOrder copy;
        lock (_gate) copy = _orders.Single(o => o.ClientOrderId == clientOrderId).Copy();
        change(copy);
        return JsonSerializer.Serialize(OrderJson(copy));
    }

    /// <summary>Cuts every stream connection abruptly, as a network drop would.</summary>
    public void DropStream()
    {
        lock (_gate)
        {
            foreach (var subscriber in _subscribers) subscriber.Socket.Abort();
            _subscribers.Clear();
        }
    }

    // ---- HTTP pipeline ----

    private async Task ScriptedFaultsAsync(HttpContext context, Func<Task> next)
    {
        if (context.WebSockets.IsWebSocketRequest)
        {
            await next();
            return;
        }
        var route = $"{context.Request.Method} {context.Request.Path}";
        _requests.Enqueue(route);
        if (RejectKeys || context.Request.Headers["APCA-API-KEY-ID"] != KeyId || context.Request.Headers["APCA-API-SECRET-KEY"] != SecretKey)
        {
            // As Alpaca does: a bare message, no code.
            await WriteAsync(context, 401, """{"message":"unauthorized"}""");
            return;
        }
        if (FailEverything is { } status)
        {
            await WriteAsync(context, status, """{"code":50010000,"message":"internal server error"}""");
            return;
        }
        if (!_faults.TryGetValue(route, out var queue) || !queue.TryDequeue(out var fault))
        {
            await next();
            return;
        }
        switch (fault)
        {
            case Fault.Reply reply:
                foreach (var (name, value) in reply.Headers) context.Response.Headers[name] = value;
                await WriteAsync(context, reply.Status, reply.Body);
                break;
            case Fault.Hang hang:
                await DelayQuietly(hang.Delay, context.RequestAborted);
                if (!context.RequestAborted.IsCancellationRequested) await WriteAsync(context, 504, """{"message":"gateway timeout"}""");
                break;
            case Fault.SlowReply slow:
            {
                var (status2, body) = await RunBufferedAsync(context, next);
                await DelayQuietly(slow.Delay, context.RequestAborted);
                if (!context.RequestAborted.IsCancellationRequested) await WriteAsync(context, status2, body);
                break;
            }
            case Fault.Malformed malformed:
                if (malformed.AfterHandling) await RunBufferedAsync(context, next);
                await WriteAsync(context, 200, """{"id": "6f0c2b6e-, "status": """);
                break;
        }
    }

    /// <summary>Runs the real handler (its effects happen) but keeps its reply.</summary>
    private static async Task<(int Status, string Body)> RunBufferedAsync(HttpContext context, Func<Task> next)
    {
        var original = context.Response.Body;
        using var buffer = new MemoryStream();
        context.Response.Body = buffer;
        try
        {
            await next();
        }
        finally
        {
            context.Response.Body = original;
        }
        var status = context.Response.StatusCode;
        context.Response.Clear();
        return (status, Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private static async Task DelayQuietly(TimeSpan delay, CancellationToken ct)
    {
        try { await Task.Delay(delay, ct); } catch (OperationCanceledException) { }
    }

    private static async Task WriteAsync(HttpContext context, int status, string body)
    {
        context.Response.StatusCode = status;
        if (body.Length == 0) return;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body);
    }

    private static IResult Json(object? value, int status = 200) => Results.Json(value, statusCode: status);

    private static IResult Error(int status, long code, string message) => Results.Json(new Dictionary<string, object> { ["code"] = code, ["message"] = message }, statusCode: status);

    private Dictionary<string, object?> ConfigurationsJson() => new()
    {
        ["dtbp_check"] = "entry", ["trade_confirm_email"] = "all", ["suspend_trade"] = SuspendTrade, ["no_shorting"] = false,
        ["fractional_trading"] = true, ["max_margin_multiplier"] = "4", ["pdt_check"] = "entry", ["ptp_no_exception_entry"] = false,
    };

    private void MapRoutes(WebApplication app)
    {
        app.MapGet("/v2/account", () =>
        {
            lock (_gate)
            {
                var longValue = _positions.Values.Where(p => p.Qty > 0).Sum(p => p.Qty * PriceLocked(p.Symbol));
                var shortValue = _positions.Values.Where(p => p.Qty < 0).Sum(p => p.Qty * PriceLocked(p.Symbol));
                return Json(new Dictionary<string, object?>
                {
                    ["id"] = "904837e3-3b76-47ec-b432-046db621571b", ["account_number"] = "PA3FAKE0001", ["status"] = "ACTIVE", ["currency"] = "USD",
                    ["cash"] = Dec(_cash), ["equity"] = Dec(_cash + longValue + shortValue), ["last_equity"] = Dec(100_000m),
                    ["buying_power"] = Dec(_cash), ["long_market_value"] = Dec(longValue), ["short_market_value"] = Dec(shortValue),
                    ["initial_margin"] = "0", ["maintenance_margin"] = "0", ["multiplier"] = "1", ["trading_blocked"] = false, ["account_blocked"] = false,
                    ["trade_suspended_by_user"] = SuspendTrade, ["shorting_enabled"] = true, ["created_at"] = Ts(new DateTimeOffset(2024, 1, 2, 15, 4, 5, TimeSpan.Zero)),
                });
            }
        });
        app.MapGet("/v2/account/configurations", () => Json(ConfigurationsJson()));
        app.MapPatch("/v2/account/configurations", async (HttpRequest request) =>
        {
            using var body = await JsonDocument.ParseAsync(request.Body);
            if (body.RootElement.TryGetProperty("suspend_trade", out var suspend))
            {
                if (suspend.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) return Error(422, 40010001, "suspend_trade must be a boolean");
                SuspendTrade = suspend.GetBoolean();
            }
            return Json(ConfigurationsJson());
        });
        app.MapGet("/v2/positions", () =>
        {
            lock (_gate) return Json(_positions.Values.Select(PositionJson).ToList());
        });
        app.MapGet("/v2/positions/{symbol}", (string symbol) =>
        {
            lock (_gate) return _positions.TryGetValue(symbol, out var p) ? Json(PositionJson(p)) : Error(404, 40410000, "position does not exist");
        });
        app.MapDelete("/v2/positions", (HttpRequest request) =>
        {
            lock (_gate)
            {
                if (request.Query["cancel_orders"] == "true")
                    foreach (var order in _orders.Where(o => o.IsOpen)) CancelLocked(order);
                var items = new List<Dictionary<string, object?>>();
                foreach (var position in _positions.Values.ToList())
                {
                    // Closing a position is a new order: refused while suspend_trade is on.
                    var refusal = SuspendTrade ? "new orders are rejected by user request" : CloseRefusals.GetValueOrDefault(position.Symbol);
                    if (refusal is not null)
                    {
                        items.Add(new() { ["symbol"] = position.Symbol, ["status"] = 403, ["body"] = new Dictionary<string, object> { ["code"] = 40310000, ["message"] = refusal } });
                        continue;
                    }
                    var closing = CreateLocked(Guid.NewGuid().ToString(), position.Symbol, Math.Abs(position.Qty), position.Qty > 0 ? "sell" : "buy", "market", "day", null);
                    items.Add(new() { ["symbol"] = position.Symbol, ["status"] = 200, ["body"] = OrderJson(closing.Accepted) });
                    if (MarketOpen) FillLocked(closing, closing.Qty);
                }
                return Json(items, 207);
            }
        });
        app.MapPost("/v2/orders", async (HttpRequest request) =>
        {
            using var body = await JsonDocument.ParseAsync(request.Body);
            var root = body.RootElement;
            string? Text(string name) => root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.ToString() : null;
            var quantity = decimal.Parse(Text("qty") ?? "0", NumberStyles.Number, CultureInfo.InvariantCulture);
            var limit = Text("limit_price") is { } l ? decimal.Parse(l, NumberStyles.Number, CultureInfo.InvariantCulture) : (decimal?)null;
            var clientOrderId = Text("client_order_id") ?? Guid.NewGuid().ToString();
            lock (_gate)
            {
                if (SuspendTrade) return Error(403, 40310000, "new orders are rejected by user request");
                if (_orders.Any(o => o.ClientOrderId == clientOrderId)) return Error(422, 40010001, "client_order_id must be unique");
                if (quantity <= 0) return Error(422, 40010001, "qty must be > 0");
                var symbol = Text("symbol")!;
                var side = Text("side")!;
                var cost = quantity * (limit ?? PriceLocked(symbol));
                if (side == "buy" && cost > _cash)
                    return Results.Json(new Dictionary<string, object>
                    {
                        ["code"] = 40310000, ["message"] = "insufficient buying power", ["buying_power"] = Dec(_cash), ["cost_basis"] = Dec(cost),
                    }, statusCode: 403);
                var order = CreateLocked(clientOrderId, symbol, quantity, side, Text("type")!, Text("time_in_force")!, limit);
                if (order.Type == "market" && MarketOpen) FillLocked(order, order.Qty);
                return Json(OrderJson(order.Accepted));
            }
        });
        app.MapGet("/v2/orders", (HttpRequest request) =>
        {
            lock (_gate)
                return Json(_orders.Where(o => request.Query["status"] != "open" || o.IsOpen).OrderByDescending(o => o.CreatedAt).Select(OrderJson).ToList());
        });
        app.MapGet("/v2/orders:by_client_order_id", (HttpRequest request) =>
        {
            lock (_gate)
                return _orders.FirstOrDefault(o => o.ClientOrderId == request.Query["client_order_id"]) is { } order
                    ? Json(OrderJson(order)) : Error(404, 40410000, "order not found");
        });
        app.MapDelete("/v2/orders/{id}", (string id) =>
        {
            lock (_gate)
            {
                if (_orders.FirstOrDefault(o => o.Id == id) is not { } order) return Error(404, 40410000, "order not found");
                if (!order.IsOpen) return Error(422, 42210000, "order is not cancelable");
                CancelLocked(order);
                return Results.NoContent();
            }
        });
        app.MapDelete("/v2/orders", () =>
        {
            lock (_gate)
            {
                var items = new List<Dictionary<string, object?>>();
                foreach (var order in _orders.Where(o => o.IsOpen).ToList())
                {
                    if (CancelRefusals.TryGetValue(order.ClientOrderId, out var refusal))
                    {
                        items.Add(new() { ["id"] = order.Id, ["status"] = 500, ["body"] = new Dictionary<string, object> { ["code"] = 50010000, ["message"] = refusal } });
                        continue;
                    }
                    CancelLocked(order);
                    items.Add(new() { ["id"] = order.Id, ["status"] = 200, ["body"] = OrderJson(order) });
                }
                return Json(items, 207);
            }
        });
        app.MapGet("/v2/clock", () => Json(new Dictionary<string, object?>
        {
            ["timestamp"] = Ts(DateTimeOffset.UtcNow), ["is_open"] = MarketOpen,
            ["next_open"] = "2030-01-02T09:30:00-05:00", ["next_close"] = "2030-01-02T16:00:00-05:00",
        }));
        // The market-data REST API (data.alpaca.markets at Alpaca), served here too.
        app.MapGet("/v2/stocks/bars/latest", (HttpRequest request) =>
        {
            var feed = request.Query["feed"].ToString();
            if (feed is not ("iex" or "sip")) return Results.Json(new Dictionary<string, object?> { ["message"] = "invalid feed" }, statusCode: 400);
            var bars = request.Query["symbols"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries)
                .Where(LatestBars.ContainsKey)
                .ToDictionary(symbol => symbol, symbol => (object?)new Dictionary<string, object?>
                {
                    // Prices as JSON numbers, as the market-data API writes them.
                    ["t"] = Ts(LatestBars[symbol].Time), ["o"] = LatestBars[symbol].Close, ["h"] = LatestBars[symbol].Close,
                    ["l"] = LatestBars[symbol].Close, ["c"] = LatestBars[symbol].Close, ["v"] = 100, ["n"] = 1, ["vw"] = LatestBars[symbol].Close,
                });
            return Results.Json(new Dictionary<string, object?> { ["bars"] = bars });
        });
        app.Map("/stream", StreamAsync);
        app.Map("/v2/iex", DataStreamAsync);
        app.Map("/v2/sip", DataStreamAsync);
    }

    // ---- trading state (callers hold _gate) ----

    private decimal PriceLocked(string symbol) => _prices.GetValueOrDefault(symbol, 100m);

    private FakeOrder CreateLocked(string clientOrderId, string symbol, decimal quantity, string side, string type, string timeInForce, decimal? limit)
    {
        var now = DateTimeOffset.UtcNow;
        var order = new FakeOrder
        {
            Id = Guid.NewGuid().ToString(), ClientOrderId = clientOrderId, Symbol = symbol, Qty = quantity, Side = side, Type = type,
            TimeInForce = timeInForce, LimitPrice = limit, Status = "accepted", CreatedAt = now, UpdatedAt = now,
        };
        order.Accepted = order.Copy();
        _orders.Add(order);
        order.Status = "new";
        PublishLocked("new", order);
        return order;
    }

    private void FillLocked(FakeOrder order, decimal quantity)
    {
        var price = order.LimitPrice ?? PriceLocked(order.Symbol);
        order.FilledAvgPrice = ((order.FilledAvgPrice ?? 0m) * order.FilledQty + price * quantity) / (order.FilledQty + quantity);
        order.FilledQty += quantity;
        order.Status = order.FilledQty >= order.Qty ? "filled" : "partially_filled";
        order.UpdatedAt = DateTimeOffset.UtcNow;
        var signed = order.Side == "buy" ? quantity : -quantity;
        _cash -= signed * price;
        var before = _positions.GetValueOrDefault(order.Symbol);
        var after = (before?.Qty ?? 0m) + signed;
        if (after == 0m) _positions.Remove(order.Symbol);
        else _positions[order.Symbol] = new FakePosition(order.Symbol, after,
            before is null || Math.Sign(before.Qty) != Math.Sign(after) ? price : Math.Abs(after) > Math.Abs(before.Qty) ? (before.AvgPrice * before.Qty + price * signed) / after : before.AvgPrice);
        PublishLocked(order.Status == "filled" ? "fill" : "partial_fill", order, price, quantity, after);
    }

    private void CancelLocked(FakeOrder order)
    {
        order.Status = "canceled";
        order.UpdatedAt = DateTimeOffset.UtcNow;
        PublishLocked("canceled", order);
    }

    private void PublishLocked(string @event, FakeOrder order, decimal? price = null, decimal? quantity = null, decimal? positionQty = null)
    {
        var data = new Dictionary<string, object?> { ["event"] = @event, ["order"] = OrderJson(order), ["timestamp"] = Ts(DateTimeOffset.UtcNow) };
        if (price is { } p)
        {
            data["execution_id"] = Guid.NewGuid().ToString();
            data["price"] = Dec(p);
            data["qty"] = Dec(quantity!.Value);
            data["position_qty"] = Dec(positionQty!.Value);
        }
        var json = JsonSerializer.Serialize(new Dictionary<string, object> { ["stream"] = "trade_updates", ["data"] = data });
        // Whoever listens at this moment gets it; with nobody listening it is gone, as at Alpaca.
        if (_subscribers.Count == 0) Interlocked.Increment(ref _lost);
        _events.Writer.TryWrite((json, _subscribers.ToArray()));
    }

    private static Dictionary<string, object?> OrderJson(FakeOrder o) => new()
    {
        ["id"] = o.Id, ["client_order_id"] = o.ClientOrderId, ["created_at"] = Ts(o.CreatedAt), ["updated_at"] = Ts(o.UpdatedAt),
        ["submitted_at"] = Ts(o.CreatedAt), ["filled_at"] = o.Status == "filled" ? Ts(o.UpdatedAt) : null,
        ["expired_at"] = null, ["canceled_at"] = o.Status == "canceled" ? Ts(o.UpdatedAt) : null, ["failed_at"] = null,
        ["asset_id"] = "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415", ["symbol"] = o.Symbol, ["asset_class"] = "us_equity",
        ["notional"] = null, ["qty"] = Dec(o.Qty), ["filled_qty"] = Dec(o.FilledQty), ["filled_avg_price"] = o.FilledAvgPrice is { } p ? Dec(p) : null,
        ["order_class"] = "", ["order_type"] = o.Type, ["type"] = o.Type, ["side"] = o.Side, ["time_in_force"] = o.TimeInForce,
        ["limit_price"] = o.LimitPrice is { } l ? Dec(l) : null, ["stop_price"] = null, ["status"] = o.Status, ["extended_hours"] = false, ["legs"] = null,
    };

    private Dictionary<string, object?> PositionJson(FakePosition p)
    {
        var price = PriceLocked(p.Symbol);
        return new()
        {
            ["asset_id"] = "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415", ["symbol"] = p.Symbol, ["exchange"] = "NASDAQ", ["asset_class"] = "us_equity",
            ["qty"] = Dec(p.Qty), ["qty_available"] = Dec(p.Qty), ["side"] = p.Qty > 0 ? "long" : "short", ["avg_entry_price"] = Dec(p.AvgPrice),
            ["market_value"] = Dec(p.Qty * price), ["cost_basis"] = Dec(p.Qty * p.AvgPrice), ["unrealized_pl"] = Dec(p.Qty * (price - p.AvgPrice)),
            ["unrealized_plpc"] = "0", ["unrealized_intraday_pl"] = "0", ["current_price"] = Dec(price), ["lastday_price"] = Dec(price), ["change_today"] = "0",
        };
    }

    private static string Dec(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Nanosecond precision, as Alpaca sends.</summary>
    private static string Ts(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff", CultureInfo.InvariantCulture) + "42Z";

    // ---- trade-updates stream ----

    private async Task StreamAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest || RefuseStream)
        {
            if (RefuseStream) Interlocked.Increment(ref _refusedStreams);
            context.Response.StatusCode = 503;
            return;
        }
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var subscriber = new Subscriber(socket);
        try
        {
            using (var auth = JsonDocument.Parse(await ReceiveAsync(socket) ?? "{}"))
            {
                var data = auth.RootElement.GetProperty("data");
                var authorized = !RejectKeys && data.GetProperty("key_id").GetString() == KeyId && data.GetProperty("secret_key").GetString() == SecretKey;
                await subscriber.SendAsync(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["stream"] = "authorization", ["data"] = new Dictionary<string, string> { ["status"] = authorized ? "authorized" : "unauthorized", ["action"] = "authenticate" },
                }));
                if (!authorized)
                {
                    await socket.CloseAsync(WebSocketCloseStatus.PolicyViolation, "unauthorized", CancellationToken.None);
                    return;
                }
            }
            using (var listen = JsonDocument.Parse(await ReceiveAsync(socket) ?? "{}"))
            {
                if (listen.RootElement.GetProperty("action").GetString() != "listen") return;
                // Registered before the reply, so nothing published after the client hears "listening" can be missed.
                lock (_gate) _subscribers.Add(subscriber);
                Interlocked.Increment(ref _listens);
                await subscriber.SendAsync("""{"stream":"listening","data":{"streams":["trade_updates"]}}""");
            }
            while (await ReceiveAsync(socket) is not null) { }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or JsonException or KeyNotFoundException)
        {
            // A dropped or misbehaving client; nothing to clean up beyond the subscription.
        }
        finally
        {
            lock (_gate) _subscribers.Remove(subscriber);
        }
    }

    // ---- Market-data stream ----

    private readonly List<(Subscriber Subscriber, HashSet<string> Symbols)> _dataSubscribers = [];
    private int _dataOpen, _dataMaxOpen, _dataSubscriptions, _dataLimitRefusals;

    /// <summary>New market-data connections are refused (503).</summary>
    public bool RefuseDataStream { get; set; }
    /// <summary>Market-data connections that authenticated and subscribed (a reconnect or a takeover adds one).</summary>
    public int DataSubscriptions => Volatile.Read(ref _dataSubscriptions);
    /// <summary>The most market-data connections authenticated at once; as at Alpaca, a second one is refused with 406.</summary>
    public int MaxConcurrentDataConnections => Volatile.Read(ref _dataMaxOpen);
    public int DataConnectionLimitRefusals => Volatile.Read(ref _dataLimitRefusals);

    /// <summary>A trade on the market-data stream, to every connection subscribed to the symbol's trades.</summary>
    public async Task PublishTradeAsync(string symbol, decimal price, decimal size = 100m)
    {
        var json = JsonSerializer.Serialize(new[]
        {
            new Dictionary<string, object> { ["T"] = "t", ["S"] = symbol, ["p"] = price, ["s"] = size, ["t"] = Ts(DateTimeOffset.UtcNow), ["x"] = "V", ["i"] = 1, ["z"] = "C" },
        });
        Subscriber[] to;
        lock (_gate) to = _dataSubscribers.Where(d => d.Symbols.Contains(symbol)).Select(d => d.Subscriber).ToArray();
        foreach (var subscriber in to)
        {
            try
            {
                await subscriber.SendAsync(json);
            }
            catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or InvalidOperationException)
            {
                // The connection was dropping.
            }
        }
    }

    /// <summary>As Alpaca does with a client that reads too slowly: error 407 on every data connection, then close it.</summary>
    public async Task EvictSlowDataClientsAsync()
    {
        Subscriber[] to;
        lock (_gate)
        {
            to = _dataSubscribers.Select(d => d.Subscriber).ToArray();
            _dataSubscribers.Clear();
        }
        foreach (var subscriber in to)
        {
            try
            {
                await subscriber.SendAsync("""[{"T":"error","code":407,"msg":"slow client"}]""");
                await subscriber.Socket.CloseOutputAsync(WebSocketCloseStatus.PolicyViolation, "slow client", CancellationToken.None);
            }
            catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
            {
                // The client read the error and hung up first: the connection is already gone.
            }
        }
    }

    /// <summary>Cuts every market-data connection abruptly.</summary>
    public void DropDataStream()
    {
        lock (_gate)
        {
            foreach (var (subscriber, _) in _dataSubscribers) subscriber.Socket.Abort();
            _dataSubscribers.Clear();
        }
    }

    /// <summary>As Alpaca's v2 stream: connected, auth (402 on bad keys, 406 beyond one connection), subscribe, then arrays of messages.</summary>
    private async Task DataStreamAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest || RefuseDataStream)
        {
            context.Response.StatusCode = 503;
            return;
        }
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var subscriber = new Subscriber(socket);
        var counted = false;
        try
        {
            await subscriber.SendAsync("""[{"T":"success","msg":"connected"}]""");
            using (var auth = JsonDocument.Parse(await ReceiveAsync(socket) ?? "{}"))
            {
                var root = auth.RootElement;
                if (RejectKeys || root.GetProperty("action").GetString() != "auth" || root.GetProperty("key").GetString() != KeyId
                    || root.GetProperty("secret").GetString() != SecretKey)
                {
                    await subscriber.SendAsync("""[{"T":"error","code":402,"msg":"auth failed"}]""");
                    await socket.CloseAsync(WebSocketCloseStatus.PolicyViolation, "auth failed", CancellationToken.None);
                    return;
                }
            }
            lock (_gate)
            {
                if (_dataOpen >= 1) Interlocked.Increment(ref _dataLimitRefusals);
                else
                {
                    counted = true;
                    _dataOpen++;
                    _dataMaxOpen = Math.Max(_dataMaxOpen, _dataOpen);
                }
            }
            if (!counted)
            {
                await subscriber.SendAsync("""[{"T":"error","code":406,"msg":"connection limit exceeded"}]""");
                await socket.CloseAsync(WebSocketCloseStatus.PolicyViolation, "connection limit exceeded", CancellationToken.None);
                return;
            }
            await subscriber.SendAsync("""[{"T":"success","msg":"authenticated"}]""");
            using (var subscribe = JsonDocument.Parse(await ReceiveAsync(socket) ?? "{}"))
            {
                var root = subscribe.RootElement;
                if (root.GetProperty("action").GetString() != "subscribe") return;
                var trades = root.GetProperty("trades").EnumerateArray().Select(e => e.GetString()!).ToList();
                var quotes = root.TryGetProperty("quotes", out var q) ? q.EnumerateArray().Select(e => e.GetString()!).ToList() : [];
                lock (_gate) _dataSubscribers.Add((subscriber, trades.ToHashSet(StringComparer.Ordinal)));
                Interlocked.Increment(ref _dataSubscriptions);
                await subscriber.SendAsync(JsonSerializer.Serialize(new[]
                {
                    new Dictionary<string, object> { ["T"] = "subscription", ["trades"] = trades, ["quotes"] = quotes, ["bars"] = Array.Empty<string>() },
                }));
            }
            while (await ReceiveAsync(socket) is not null) { }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            // A dropped or misbehaving client.
        }
        finally
        {
            lock (_gate)
            {
                _dataSubscribers.RemoveAll(d => d.Subscriber == subscriber);
                if (counted) _dataOpen--;
            }
        }
    }

    private async Task PumpEventsAsync()
    {
        await foreach (var (json, to) in _events.Reader.ReadAllAsync())
        {
            foreach (var subscriber in to)
            {
                try
                {
                    await subscriber.SendAsync(json);
                    Interlocked.Increment(ref _delivered);
                }
                catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or InvalidOperationException)
                {
                    Interlocked.Increment(ref _lost);
                }
            }
        }
    }

    private static async Task<string?> ReceiveAsync(WebSocket socket)
    {
        var buffer = new byte[8192];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close) return null;
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage) return Encoding.UTF8.GetString(message.ToArray());
        }
    }

    public async ValueTask DisposeAsync()
    {
        _events.Writer.TryComplete();
        DropStream();
        DropDataStream();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _pump;
    }

    private sealed class Subscriber(WebSocket socket)
    {
        private readonly SemaphoreSlim _send = new(1, 1);
        public WebSocket Socket { get; } = socket;

        /// <summary>Binary frames, as the paper stream sends them.</summary>
        public async Task SendAsync(string json)
        {
            await _send.WaitAsync();
            try
            {
                await Socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
            }
            finally
            {
                _send.Release();
            }
        }
    }
}

public sealed class FakeOrder
{
    public required string Id { get; init; }
    public required string ClientOrderId { get; init; }
    public required string Symbol { get; init; }
    public required decimal Qty { get; init; }
    public required string Side { get; init; }
    public required string Type { get; init; }
    public required string TimeInForce { get; init; }
    public decimal? LimitPrice { get; init; }
    public required string Status { get; set; }
    public decimal FilledQty { get; set; }
    public decimal? FilledAvgPrice { get; set; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; set; }
    /// <summary>The order as the submit reply shows it (before any fill).</summary>
    public FakeOrder Accepted { get; set; } = null!;

    public bool IsOpen => Status is "new" or "accepted" or "partially_filled";

    public FakeOrder Copy() => (FakeOrder)MemberwiseClone();
}

public sealed record FakePosition(string Symbol, decimal Qty, decimal AvgPrice);

/// <summary>What one scripted request gets instead of the normal answer.</summary>
public abstract record Fault
{
    /// <summary>A fixed reply (status, JSON body, headers); the request has no effect.</summary>
    public sealed record Reply(int Status, string Body, IReadOnlyDictionary<string, string> Headers) : Fault;
    /// <summary>No reply for this long, and the request has no effect (a timeout where nothing happened).</summary>
    public sealed record Hang(TimeSpan Delay) : Fault;
    /// <summary>The request takes effect but its reply is held this long (a timeout where the order was created).</summary>
    public sealed record SlowReply(TimeSpan Delay) : Fault;
    /// <summary>A 200 whose body is not JSON, after the request took effect or not.</summary>
    public sealed record Malformed(bool AfterHandling) : Fault;

    public static Fault Error(int status, string body, params (string Name, string Value)[] headers) =>
        new Reply(status, body, headers.ToDictionary(h => h.Name, h => h.Value));
}
