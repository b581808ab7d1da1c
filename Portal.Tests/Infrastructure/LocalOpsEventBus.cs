using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Portal.Features.Identity;
using Portal.Features.Live;
using Portal.Infrastructure.Redis;

namespace Portal.Tests.Infrastructure;

/// <summary>An <see cref="OpsEventBus"/> for component tests: it delivers what is published here and is never started (no Redis).</summary>
public static class LocalOpsEventBus
{
    public static OpsEventBus Create() => new(null!, Options.Create(new RedisOptions()), Options.Create(new LiveOptions()), new EphemeralDataProtectionProvider(),
        new LoggingSecurityEventSink(NullLogger<LoggingSecurityEventSink>.Instance), TimeProvider.System, NullLogger<OpsEventBus>.Instance);
}
