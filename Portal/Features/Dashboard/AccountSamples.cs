using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Features.Risk;

namespace Portal.Features.Dashboard;

/// <summary><c>Dashboard:*</c>: how often the account's P&amp;L and exposure are stored for the charts, and for how long.</summary>
public sealed class DashboardOptions
{
    public const string Section = "Dashboard";

    /// <summary>One stored sample per interval (across instances).</summary>
    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Samples older than this are deleted; at least the charts' longest range (a week).</summary>
    public TimeSpan SampleRetention { get; set; } = TimeSpan.FromDays(8);
}

/// <summary>Refuses start-up with a message naming each bad key.</summary>
public sealed class DashboardOptionsValidator : IValidateOptions<DashboardOptions>
{
    public ValidateOptionsResult Validate(string? name, DashboardOptions o)
    {
        const string s = DashboardOptions.Section;
        var errors = new List<string>();
        if (o.SampleInterval < TimeSpan.FromSeconds(5) || o.SampleInterval > TimeSpan.FromHours(1))
            errors.Add($"{s}:SampleInterval must be between 00:00:05 and 01:00:00.");
        if (o.SampleRetention < AccountHistoryRange.Longest || o.SampleRetention > TimeSpan.FromDays(400))
            errors.Add($"{s}:SampleRetention must be between 7.00:00:00 (the charts' longest range) and 400.00:00:00.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>One stored point of the account: daily P&amp;L (equity less the day's start) and gross exposure, in USD.</summary>
public sealed record AccountSample(DateTimeOffset At, decimal Equity, decimal DailyPnl, decimal GrossExposure);

/// <summary>The ranges a chart offers.</summary>
public static class AccountHistoryRange
{
    public static readonly TimeSpan Hour = TimeSpan.FromHours(1);
    public static readonly TimeSpan Day = TimeSpan.FromDays(1);
    public static readonly TimeSpan Week = TimeSpan.FromDays(7);
    public static TimeSpan Longest => Week;
}

/// <summary><c>account_samples</c>: written by <see cref="AccountSampler"/>, read by the dashboard's charts.</summary>
public sealed class AccountSampleStore(NpgsqlDataSource db)
{
    /// <summary>Most points a chart reads: longer ranges are thinned to the last sample of equal time buckets.</summary>
    public const int MaxPoints = 600;

    /// <summary>Stores a sample unless another instance already stored this time's.</summary>
    public async Task InsertAsync(AccountSample sample, CancellationToken ct)
    {
        await using var command = db.CreateCommand("""
            insert into account_samples (sampled_at, equity, daily_pnl, gross_exposure) values ($1, $2, $3, $4)
            on conflict (sampled_at) do nothing
            """);
        command.Parameters.AddWithValue(sample.At);
        command.Parameters.AddWithValue(sample.Equity);
        command.Parameters.AddWithValue(sample.DailyPnl);
        command.Parameters.AddWithValue(sample.GrossExposure);
        await command.ExecuteNonQueryAsync(ct);
    }

    public async Task<int> PruneAsync(DateTimeOffset before, CancellationToken ct)
    {
        await using var command = db.CreateCommand("delete from account_samples where sampled_at < $1");
        command.Parameters.AddWithValue(before);
        return await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Samples since <paramref name="since"/>, oldest first, at most about <see cref="MaxPoints"/> (the last of each bucket).</summary>
    public async Task<IReadOnlyList<AccountSample>> SinceAsync(DateTimeOffset since, DateTimeOffset now, CancellationToken ct)
    {
        var bucket = TimeSpan.FromTicks(Math.Max((now - since).Ticks / MaxPoints, TimeSpan.TicksPerSecond));
        await using var command = db.CreateCommand("""
            select max(sampled_at), (array_agg(equity order by sampled_at desc))[1], (array_agg(daily_pnl order by sampled_at desc))[1],
                   (array_agg(gross_exposure order by sampled_at desc))[1]
            from account_samples where sampled_at >= $1 and sampled_at <= $2
            group by date_bin($3, sampled_at, $1) order by 1
            """);
        command.Parameters.AddWithValue(since);
        command.Parameters.AddWithValue(now);
        command.Parameters.AddWithValue(bucket);
        var samples = new List<AccountSample>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            samples.Add(new AccountSample(reader.GetFieldValue<DateTimeOffset>(0), reader.GetDecimal(1), reader.GetDecimal(2), reader.GetDecimal(3)));
        return samples;
    }
}

/// <summary>
/// Stores the risk book's P&amp;L and gross exposure every <see cref="DashboardOptions.SampleInterval"/> (at the interval's
/// start, so several instances store one row) and deletes samples older than <see cref="DashboardOptions.SampleRetention"/>.
/// </summary>
public sealed class AccountSampler(RiskBook risk, AccountSampleStore store, IOptions<DashboardOptions> options, TimeProvider clock, ILogger<AccountSampler> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.SampleInterval;
        using var timer = new PeriodicTimer(interval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await SampleAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Could not store the account sample; the dashboard's history will have a gap");
            }
        }
    }

    /// <summary>One sample now (none before the risk book's first view of the account) and the pruning.</summary>
    public async Task SampleAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        if (risk.Snapshot is { } snapshot)
        {
            var interval = options.Value.SampleInterval;
            var at = new DateTimeOffset(now.UtcTicks - now.UtcTicks % interval.Ticks, TimeSpan.Zero);
            await store.InsertAsync(new AccountSample(at, snapshot.Equity, snapshot.Equity - snapshot.DayStartEquity, snapshot.GrossExposureUsd), ct);
        }
        await store.PruneAsync(now - options.Value.SampleRetention, ct);
    }
}

public static class DashboardSetup
{
    /// <summary>The dashboard's queries and the stored account samples behind its charts.</summary>
    public static IHostApplicationBuilder AddDashboard(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DashboardOptions>().BindConfiguration(DashboardOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<DashboardOptions>, DashboardOptionsValidator>();
        builder.Services.AddSingleton<DashboardQueries>();
        builder.Services.AddSingleton<AccountSampleStore>();
        builder.Services.AddHostedService<AccountSampler>();
        return builder;
    }
}
