using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Portal.Features.Auth;
using Portal.Features.Observability;
using Portal.Infrastructure.Http;

namespace Portal.Features.Orders;

public static class OrdersApi
{
    /// <summary>The reason an order the broker refused carries, next to the pre-trade reasons.</summary>
    public const string BrokerRejectedReason = "BrokerRejected";

    public static IEndpointRouteBuilder MapOrdersApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/orders").WithTags("Orders").RequireAuthorization(Scopes.Policy(Scopes.Orders));
        group.MapPost("/", PostOrder);
        group.MapGet("/{clientOrderId}", GetOrder);
        return app;
    }

    public sealed record OrderAccepted(Guid OrderId, string ClientOrderId, string Status, string? BrokerOrderId, string Decision,
        decimal FilledQuantity, decimal? AvgFillPrice);

    private static async Task<IResult> PostOrder(HttpRequest request, OrderRequestParser parser, OrderGateway gateway, ClaimsPrincipal user,
        ILogger<OrderGateway> logger, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, OrderRequestParser.MaxBodyBytes, ct);
        if (!body.IsValid) return TypedResults.ValidationProblem(body.Errors, title: "The order request is not valid.");
        var (order, errors) = parser.Parse(body.Root);
        if (order is null) return TypedResults.ValidationProblem(errors, title: "The order request is not valid.");

        var actor = user.FindFirstValue(ClaimTypes.NameIdentifier)!;
        // Only API keys reach here (the orders scope policy accepts no session cookie): a person never sends orders.
        // The key's grant is checked before anything is decided or recorded, so a forbidden order changes nothing: no
        // row, no rate count, and no breach that could auto-halt the strategy it names.
        var strategyId = order.Intent.StrategyId;
        var mayTrade = StrategyGrants.Allows(user.FindAll(StrategyGrants.ClaimType).Select(c => c.Value), strategyId);
        if (!mayTrade) return ForbiddenStrategy(strategyId, actor, logger);
        var outcome = await gateway.SubmitAsync(order, actor, mayTrade, ct);
        return outcome.Kind switch
        {
            OutcomeKind.Conflict => TypedResults.Problem(outcome.Detail, statusCode: StatusCodes.Status409Conflict, title: "clientOrderId already used",
                extensions: new Dictionary<string, object?> { ["clientOrderId"] = order.ClientOrderId, ["orderId"] = outcome.Row!.Id }),
            OutcomeKind.Unavailable => TypedResults.Problem(outcome.Detail, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Order not accepted",
                extensions: new Dictionary<string, object?> { ["reason"] = OrderGateway.RiskStateUnavailable }),
            _ => ToResult(outcome.Row!),
        };
    }

    private static IResult ForbiddenStrategy(string strategyId, string actor, ILogger logger)
    {
        var reserved = StrategyGrants.IsReserved(strategyId);
        PortalMetrics.OrdersForbiddenStrategy.WithLabels(reserved ? "reserved" : "not-granted").Inc();
        logger.LogWarning("Security: {Actor} sent an order for strategy {StrategyId}, which it may not trade ({Kind})", actor, strategyId, reserved ? "reserved" : "not granted");
        var why = reserved
            ? $"'{strategyId}' is reserved to Portal ('{StrategyGrants.DrillStrategyId}' and ids starting with '{StrategyGrants.ReservedPrefix}'); no API key may trade it."
            : $"This API key may not trade strategy '{strategyId}'.";
        return TypedResults.Problem(why, statusCode: StatusCodes.Status403Forbidden, title: "Strategy not allowed for this key",
            type: "https://portal.local/problems/strategy-forbidden",
            extensions: new Dictionary<string, object?> { ["errors"] = new Dictionary<string, string[]> { ["strategyId"] = [why] } });
    }

    private static async Task<IResult> GetOrder(string clientOrderId, OrderGateway gateway, CancellationToken ct) =>
        await gateway.FindAsync(clientOrderId, ct) is { } row ? ToResult(row, created: false)
            : TypedResults.Problem($"No order has clientOrderId '{clientOrderId}'.", statusCode: StatusCodes.Status404NotFound);

    /// <summary>One reply shape per decision, the same for the first request and every repeat of it.</summary>
    private static IResult ToResult(OrderRow row, bool created = true)
    {
        if (row.Decision == "rejected")
            return TypedResults.Problem(row.Message, statusCode: OrderGateway.IsUnavailable(row.Reason) ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status422UnprocessableEntity,
                title: "Order rejected", type: "https://portal.local/problems/order-rejected",
                extensions: new Dictionary<string, object?>
                {
                    ["reason"] = row.Reason, ["limit"] = row.LimitValue, ["actual"] = row.ActualValue,
                    ["orderId"] = row.Id, ["clientOrderId"] = row.ClientOrderId, ["decision"] = "rejected",
                });
        if (row.Status == OrderStatuses.BrokerRejected)
            return TypedResults.Problem(row.Message, statusCode: StatusCodes.Status422UnprocessableEntity, title: "The broker refused the order",
                type: "https://portal.local/problems/order-rejected",
                extensions: new Dictionary<string, object?>
                {
                    ["reason"] = BrokerRejectedReason, ["orderId"] = row.Id, ["clientOrderId"] = row.ClientOrderId,
                    ["decision"] = "accepted", ["status"] = row.Status,
                });
        if (row.Status == OrderStatuses.SubmitFailed)
            return TypedResults.Problem(row.Message, statusCode: StatusCodes.Status502BadGateway, title: "The broker did not take the order",
                extensions: new Dictionary<string, object?> { ["orderId"] = row.Id, ["clientOrderId"] = row.ClientOrderId, ["decision"] = "accepted", ["status"] = row.Status });
        var body = new OrderAccepted(row.Id, row.ClientOrderId, row.Status, row.BrokerOrderId, "accepted", row.FilledQuantity, row.AvgFillPrice);
        return created ? TypedResults.Created($"/api/orders/{row.ClientOrderId}", body) : TypedResults.Ok(body);
    }
}
