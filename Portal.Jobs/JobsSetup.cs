using Hangfire;
using Hangfire.PostgreSql;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Jobs.Audit;
using Portal.Jobs.ModelDrift;

namespace Portal.Jobs;

/// <summary><c>Hangfire:ServerEnabled</c> (default true): false runs no jobs in this process (most tests), though jobs can still be registered and called.</summary>
public sealed class HangfireSettings
{
    public const string Section = "Hangfire";

    public bool ServerEnabled { get; set; } = true;

    public int WorkerCount { get; set; } = 2;

    /// <summary>How often the server looks for recurring and delayed jobs that are due (Hangfire's default, 15 s).</summary>
    public TimeSpan SchedulePollingInterval { get; set; } = TimeSpan.FromSeconds(15);

    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (WorkerCount is < 1 or > 20) problems.Add($"{Section}:WorkerCount must be between 1 and 20 (was {WorkerCount}).");
        if (SchedulePollingInterval < TimeSpan.FromSeconds(1) || SchedulePollingInterval > TimeSpan.FromMinutes(5))
            problems.Add($"{Section}:SchedulePollingInterval must be between 1 second and 5 minutes (was {SchedulePollingInterval}).");
        return problems;
    }
}

public sealed class HangfireSettingsValidator : IValidateOptions<HangfireSettings>
{
    public ValidateOptionsResult Validate(string? name, HangfireSettings options) =>
        options.Problems() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}

/// <summary>
/// Hangfire on PostgreSQL, schema <c>hangfire</c>. The migrations (as the schema owner) install that schema and
/// grant the application role row access to it, so Hangfire runs as the application role like the rest of Portal
/// and the owner's credentials never reach the server process (the owner could disable the audit triggers).
/// Storage and job clients are registered per host rather than through Hangfire's process-global
/// <c>JobStorage.Current</c>, so several hosts in one process (tests) each use their own database.
/// </summary>
public static class JobsSetup
{
    public const string Schema = "hangfire";

    public static IHostApplicationBuilder AddPortalJobs(this IHostApplicationBuilder builder)
    {
        var settings = builder.Configuration.GetSection(HangfireSettings.Section).Get<HangfireSettings>() ?? new HangfireSettings();
        // Read here too: whether a server runs at all is decided while services are registered. Validated at start like every option.
        builder.Services.AddOptions<HangfireSettings>().BindConfiguration(HangfireSettings.Section)
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<HangfireSettings>, HangfireSettingsValidator>();
        var storageOptions = new PostgreSqlStorageOptions { SchemaName = Schema, PrepareSchemaIfNecessary = false };
        builder.Services.AddSingleton<JobStorage>(sp =>
            new PostgreSqlStorage(new DataSourceConnectionFactory(sp.GetRequiredService<NpgsqlDataSource>()), storageOptions));
        builder.Services.AddHangfire(c => c.SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings());
        if (settings.ServerEnabled)
            builder.Services.AddHangfireServer(o =>
            {
                o.WorkerCount = settings.WorkerCount;
                o.SchedulePollingInterval = settings.SchedulePollingInterval;
            });
        builder.Services.AddTransient<AuditVerificationJob>();
        builder.Services.AddTransient<ModelDriftJob>();
        return builder;
    }

    /// <summary>The read-only dashboard at <c>/jobs</c>; the caller adds the endpoint's authorization policy (Admin), <see cref="AdminOnlyDashboardFilter"/> checks again.</summary>
    public static IEndpointConventionBuilder MapJobsDashboard(this IEndpointRouteBuilder app) =>
        app.MapHangfireDashboard("/jobs", new DashboardOptions
        {
            Authorization = [],
            AsyncAuthorization = [new AdminOnlyDashboardFilter()],
            DisplayStorageConnectionString = false,
            // Look, never touch: triggering a fault drill or deleting the nightly verification is not a dashboard click.
            IsReadOnlyFunc = _ => true,
            DashboardTitle = "Portal jobs",
        }, app.ServiceProvider.GetRequiredService<JobStorage>());

    /// <summary>Creates or upgrades the <c>hangfire</c> schema as its owner and lets the application role use its rows.</summary>
    public static void InstallSchema(NpgsqlConnection ownerConnection, string quotedAppRole)
    {
        PostgreSqlObjectsInstaller.Install(ownerConnection, Schema);
        using var grant = new NpgsqlCommand($"""
            grant usage on schema {Schema} to {quotedAppRole};
            grant select, insert, update, delete on all tables in schema {Schema} to {quotedAppRole};
            grant usage, select, update on all sequences in schema {Schema} to {quotedAppRole};
            """, ownerConnection);
        grant.ExecuteNonQuery();
    }

    /// <summary>Hangfire's connections come from the host's data source (application role, its pool and settings).</summary>
    private sealed class DataSourceConnectionFactory(NpgsqlDataSource dataSource) : IConnectionFactory
    {
        public NpgsqlConnection GetOrCreateConnection() => dataSource.CreateConnection();
    }
}
