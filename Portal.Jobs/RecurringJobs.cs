using System.Linq.Expressions;
using Hangfire;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Portal.Jobs;

/// <summary>One recurring job to schedule when the process starts.</summary>
public sealed record RecurringJobRegistration(string Id, Action<IRecurringJobManager> Schedule);

public static class RecurringJobs
{
    /// <summary>Schedules <paramref name="run"/> as recurring job <paramref name="id"/> on the cron (UTC) that <paramref name="cron"/> reads from configuration.</summary>
    public static IServiceCollection AddRecurringJob<TJob>(this IServiceCollection services, string id, Func<IServiceProvider, string> cron,
        Expression<Func<TJob, Task>> run)
    {
        services.AddSingleton(sp => new RecurringJobRegistration(id,
            jobs => jobs.AddOrUpdate(id, run, cron(sp), new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc })));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, RecurringJobScheduler>());
        return services;
    }
}

/// <summary>Schedules every registered recurring job; retries those that failed while the database is unreachable.</summary>
public sealed class RecurringJobScheduler(IEnumerable<RecurringJobRegistration> registrations, IRecurringJobManager jobs, ILogger<RecurringJobScheduler> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // AddOrUpdate blocks on the database: off the start-up path.
        await Task.Yield();
        var pending = registrations.ToList();
        while (pending.Count > 0)
        {
            pending.RemoveAll(TrySchedule);
            if (pending.Count > 0) await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken);
        }
    }

    private bool TrySchedule(RecurringJobRegistration registration)
    {
        try
        {
            registration.Schedule(jobs);
            return true;
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Could not schedule recurring job {JobId}; retrying", registration.Id);
            return false;
        }
    }
}
