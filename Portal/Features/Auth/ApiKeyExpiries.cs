using Prometheus;

namespace Portal.Features.Auth;

/// <summary>
/// When each API key that expires by itself stops working, for the alert that warns before a machine client's key expires
/// (PortalApiKeyExpiring): <c>portal_api_key_expiry_timestamp_seconds{key}</c> for every key not revoked, expired ones
/// included, so the alert holds until the key is rotated and the old one revoked. Every instance reads Postgres every
/// minute, so the series do not depend on which instance created or revoked a key.
/// </summary>
public sealed class ApiKeyExpiries(ApiKeyService keys, TimeProvider clock, ILogger<ApiKeyExpiries> logger) : BackgroundService
{
    public static readonly Gauge Expiry = Metrics.CreateGauge("portal_api_key_expiry_timestamp_seconds",
        "Unix time at which the API key stops working by itself (keys not revoked that expire, expired ones included).",
        new GaugeConfiguration { LabelNames = ["key"] });

    /// <summary>How long before its expiry a key is flagged, on the admin page and by the alert (deploy/prometheus/alerts.yml).</summary>
    public static readonly TimeSpan WarnBefore = TimeSpan.FromDays(7);

    private static readonly TimeSpan RefreshEvery = TimeSpan.FromMinutes(1);
    private readonly SemaphoreSlim _refreshing = new(1, 1);

    /// <summary>What the last refresh read: each key not revoked that expires, by name (unique among keys not revoked).</summary>
    public IReadOnlyDictionary<string, DateTimeOffset> Current { get; private set; } = new Dictionary<string, DateTimeOffset>();

    public async Task RefreshAsync(CancellationToken ct)
    {
        // One at a time: a refresh that read Postgres earlier must not finish last and bring back a revoked key.
        await _refreshing.WaitAsync(ct);
        try
        {
            var current = (await keys.ListAsync(ct)).Where(k => k.RevokedAt is null && k.ExpiresAt is not null)
                .ToDictionary(k => k.Name, k => k.ExpiresAt!.Value, StringComparer.Ordinal);
            // Only the series this instance reported: the registry is the process's, whatever else reports in it.
            foreach (var gone in Current.Keys.Where(name => !current.ContainsKey(name))) Expiry.RemoveLabelled(gone);
            foreach (var (name, expiresAt) in current) Expiry.WithLabels(name).Set(expiresAt.ToUnixTimeMilliseconds() / 1000.0);
            Current = current;
        }
        finally
        {
            _refreshing.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(RefreshEvery, clock);
        do
        {
            try
            {
                await RefreshAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The series keep their last values; Postgres being down has its own alert.
                logger.LogWarning("API key expiries not refreshed: {Error}", ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
