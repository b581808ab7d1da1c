using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Portal.Features.Identity;

namespace Portal.Tests.Infrastructure;

/// <summary>Keeps every security event; install with <see cref="Install"/> as PortalFactory's configure hook.</summary>
public sealed class RecordingSecurityEventSink : ISecurityEventSink
{
    private readonly ConcurrentQueue<SecurityEvent> _events = new();

    public IReadOnlyList<SecurityEvent> Events => _events.ToArray();

    /// <summary>What happened to <paramref name="subject"/> after its creation (sign-ins, sign-outs, password changes).</summary>
    public IReadOnlyList<SecurityEvent> For(string subject) =>
        _events.Where(e => e.Kind != SecurityEventKind.UserCreated && string.Equals(e.Subject, subject, StringComparison.OrdinalIgnoreCase)).ToList();

    public ValueTask RecordAsync(SecurityEvent securityEvent, CancellationToken ct)
    {
        _events.Enqueue(securityEvent);
        return ValueTask.CompletedTask;
    }

    public static void Install(IWebHostBuilder builder, RecordingSecurityEventSink sink) =>
        builder.ConfigureTestServices(services => services.Replace(ServiceDescriptor.Singleton<ISecurityEventSink>(sink)));
}
