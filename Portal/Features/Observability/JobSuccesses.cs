using Npgsql;
using Prometheus;

namespace Portal.Features.Observability;

/// <summary>
/// When each scheduled job last succeeded: kept in Postgres (<c>job_successes</c>) and served by every instance as
/// <c>portal_job_last_success_timestamp_seconds{job_id}</c>, refreshed every minute, so the alert on a nightly job that
/// has not succeeded holds across restarts and whichever instance ran it.
/// </summary>
public sealed class JobSuccesses(NpgsqlDataSource db, TimeProvider clock, ILogger<JobSuccesses> logger) : BackgroundService
{
    public static readonly Gauge LastSuccess = Metrics.CreateGauge("portal_job_last_success_timestamp_seconds",
        "Unix time of the scheduled job's last success (from Postgres; the install time until it first succeeds).",
        new GaugeConfiguration { LabelNames = ["job_id"] });

    private static readonly TimeSpan RefreshEvery = TimeSpan.FromMinutes(1);

    public async Task RecordAsync(string jobId, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        await using var command = db.CreateCommand("""
            insert into job_successes (job, succeeded_at) values ($1, $2)
            on conflict (job) do update set succeeded_at = greatest(job_successes.succeeded_at, excluded.succeeded_at)
            """);
        command.Parameters.AddWithValue(jobId);
        command.Parameters.AddWithValue(now);
        await command.ExecuteNonQueryAsync(ct);
        await RefreshAsync(ct);
    }

    public async Task RefreshAsync(CancellationToken ct)
    {
        await using var command = db.CreateCommand("select job, succeeded_at from job_successes");
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            LastSuccess.WithLabels(reader.GetString(0)).Set(reader.GetFieldValue<DateTimeOffset>(1).ToUnixTimeMilliseconds() / 1000.0);
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
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                // The gauge keeps its last value; Postgres being down has its own alert.
                logger.LogWarning("Job success times not refreshed: {Error}", ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
