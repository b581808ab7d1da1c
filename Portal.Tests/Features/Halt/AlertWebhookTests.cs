using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Portal.Features.Halt;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Halt;

public sealed class AlertWebhookTests
{
    private const string Secret = "XoXbWebhookSecret0123456789";

    [Fact]
    public async Task An_alert_reaches_the_webhook_and_the_secret_in_its_url_reaches_no_log()
    {
        // Chat webhooks (Slack, Teams) carry their secret in the URL's path, which HttpClient's own logging writes out.
        var received = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var receiver = builder.Build();
        receiver.MapPost("/services/T0/B0/{token}", async (string token, HttpRequest request) =>
        {
            received.Enqueue(token + " " + await new StreamReader(request.Body).ReadToEndAsync());
            return Results.Ok();
        });
        await receiver.StartAsync();
        var address = receiver.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?>
        {
            [$"{AlertOptions.Section}:WebhookUrl"] = $"{address}/services/T0/B0/{Secret}",
            ["Logging:LogLevel:Default"] = "Trace",
        });
        var logs = new CapturedLogs();
        portal.Get<ILoggerFactory>().AddProvider(logs);

        portal.Get<AlertPublisher>().Publish(AlertSeverity.Critical, "trading.halted", "webhook test");

        // Other alerts (safe mode while the instance starts) may be delivered first.
        await Poll.UntilAsync(() => received.Any(d => d.Contains("webhook test", StringComparison.Ordinal)), "the alert reaches the webhook");
        Assert.All(received, delivery => Assert.StartsWith(Secret + " ", delivery));
        Assert.DoesNotContain(Secret, logs.Text);
    }
}
