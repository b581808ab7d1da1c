using System.Net.Http.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Portal.Features.Live;
using Prometheus;
using StackExchange.Redis;

namespace Portal.Features.Halt;

public enum AlertSeverity { Info, Warning, Critical }

public sealed record Alert(string Kind, AlertSeverity Severity, string Message, DateTimeOffset At, string Source);

public sealed class AlertOptions
{
    public const string Section = "Alerts";

    /// <summary>Optional: every alert is POSTed here as JSON (Slack- and PagerDuty-style fields).</summary>
    public Uri? WebhookUrl { get; set; }
    /// <summary>Redis pub/sub channel that receives every alert as JSON.</summary>
    public string RedisChannel { get; set; } = "trading:alerts";
    public int WebhookAttempts { get; set; } = 4;
}

public sealed class AlertOptionsValidator : IValidateOptions<AlertOptions>
{
    public ValidateOptionsResult Validate(string? name, AlertOptions o)
    {
        var errors = new List<string>();
        if (o.WebhookUrl is { } url && (!url.IsAbsoluteUri || url.Scheme is not ("http" or "https")))
            errors.Add($"{AlertOptions.Section}:WebhookUrl must be an absolute http(s) URL.");
        if (string.IsNullOrWhiteSpace(o.RedisChannel)) errors.Add($"{AlertOptions.Section}:RedisChannel must not be empty.");
        if (o.WebhookAttempts is < 1 or > 20) errors.Add($"{AlertOptions.Section}:WebhookAttempts must be between 1 and 20.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>
/// Every trading-state transition and safe-mode change becomes an alert: sent to live views,
/// published to the Redis alerts channel, and POSTed to the configured webhook with retries.
/// Publishing never blocks or fails the caller; webhook failures are counted and logged.
/// </summary>
public sealed class AlertPublisher(
    IConnectionMultiplexer redis, IHttpClientFactory http, OpsEventBus live, IOptions<AlertOptions> options, TimeProvider clock, ILogger<AlertPublisher> logger)
    : BackgroundService
{
    private static readonly Counter WebhookFailures = Metrics.CreateCounter("portal_alert_webhook_failures_total", "Alerts the webhook did not accept after every retry.");
    private readonly Channel<Alert> _webhookQueue = Channel.CreateBounded<Alert>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly string _source = Environment.MachineName + ":" + Environment.ProcessId;

    /// <summary>The last webhook delivery that failed for good, for the portal to show.</summary>
    public string? LastWebhookFailure { get; private set; }

    public void Publish(AlertSeverity severity, string kind, string message)
    {
        var alert = new Alert(kind, severity, message, clock.GetUtcNow(), _source);
        live.Publish(OpsEventTypes.Alert, alert);
        _ = PublishToRedisAsync(alert);
        if (options.Value.WebhookUrl is not null) _webhookQueue.Writer.TryWrite(alert);
    }

    private async Task PublishToRedisAsync(Alert alert)
    {
        try
        {
            await redis.GetSubscriber().PublishAsync(RedisChannel.Literal(options.Value.RedisChannel), System.Text.Json.JsonSerializer.Serialize(alert));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            logger.LogWarning("Alert {Kind} not published to Redis: {Error}", alert.Kind, ex.Message);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var alert in _webhookQueue.Reader.ReadAllAsync(stoppingToken))
            await DeliverAsync(alert, stoppingToken);
    }

    /// <summary>
    /// The chat line: reasons inside the message are typed by people and clients, so the characters Slack-style markup
    /// acts on (<c>&lt;!channel&gt;</c> mentions, <c>&lt;url|label&gt;</c> links) are escaped and control characters blanked.
    /// </summary>
    public static string WebhookText(Alert alert)
    {
        var text = new System.Text.StringBuilder($"[{alert.Severity}] ");
        foreach (var c in alert.Message)
            text.Append(c switch
            {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                _ when char.IsControl(c) => " ",
                _ => c.ToString(),
            });
        return text.ToString();
    }

    private async Task DeliverAsync(Alert alert, CancellationToken ct)
    {
        var payload = new
        {
            text = WebhookText(alert),
            summary = alert.Message,
            severity = alert.Severity.ToString().ToLowerInvariant(),
            source = alert.Source,
            kind = alert.Kind,
            timestamp = alert.At,
        };
        var client = http.CreateClient(nameof(AlertPublisher));
        for (var attempt = 1; attempt <= options.Value.WebhookAttempts; attempt++)
        {
            try
            {
                using var response = await client.PostAsJsonAsync(options.Value.WebhookUrl, payload, ct);
                if (response.IsSuccessStatusCode) return;
                LastWebhookFailure = $"{alert.Kind}: HTTP {(int)response.StatusCode}";
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                LastWebhookFailure = $"{alert.Kind}: {ex.Message}";
            }
            await Task.Delay(TimeSpan.FromMilliseconds(250 * Math.Pow(2, attempt)), clock, ct);
        }
        WebhookFailures.Inc();
        logger.LogError("Alert {Kind} could not be delivered to the webhook: {Failure}", alert.Kind, LastWebhookFailure);
    }
}
