using System.Text.Json;

namespace Portal.Domain.Audit;

/// <summary>An audit event before it gets its place in the chain.</summary>
/// <param name="Time">When it happened; converted to UTC and truncated to microseconds when sealed.</param>
/// <param name="Actor">Who did it (user, service or job id).</param>
/// <param name="Type">What kind of event, e.g. <c>limit.changed</c>.</param>
/// <param name="Subject">What it was done to, e.g. an account or strategy id.</param>
/// <param name="Payload">
/// Event details as any JSON value. It must outlive sealing: use <see cref="JsonElement.Clone"/> or
/// <see cref="Create{T}"/> rather than an element of a disposed <see cref="JsonDocument"/>.
/// </param>
public sealed record AuditEventDraft(DateTimeOffset Time, string Actor, string Type, string Subject, JsonElement Payload)
{
    /// <summary>A draft whose payload is <paramref name="payload"/> serialized with System.Text.Json.</summary>
    public static AuditEventDraft Create<T>(
        DateTimeOffset time, string actor, string type, string subject, T payload, JsonSerializerOptions? options = null) =>
        new(time, actor, type, subject, JsonSerializer.SerializeToElement(payload, options));
}
