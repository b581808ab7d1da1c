using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Portal.Infrastructure.Postgres;

public static class PostgresSetup
{
    public const string ConnectionName = "Postgres";
    public const string MigrationsConnectionName = "PostgresMigrations";

    public static IHostApplicationBuilder AddPostgres(this IHostApplicationBuilder builder)
    {
        var connectionString = RequiredConnectionString(builder.Configuration, ConnectionName);
        builder.Services.AddSingleton(_ => DataSource(connectionString));
        builder.Services.AddHostedService<DatabaseRoleGuard>();
        builder.Services.AddDbContextFactory<PortalDbContext>((sp, options) =>
            options.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>()));
        builder.Services.AddOptions<GroupCommitOptions>().BindConfiguration("GroupCommit").ValidateOnStart();
        builder.Services.AddSingleton<GroupCommitter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<GroupCommitter>());
        return builder;
    }

    /// <summary>
    /// Statements are prepared once per connection after their second use (unless the connection string says otherwise):
    /// the order path runs the same few statements thousands of times a second, and PostgreSQL need not parse and plan
    /// each of them again every time.
    /// </summary>
    private static NpgsqlDataSource DataSource(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        var given = new NpgsqlConnectionStringBuilder(connectionString);
        if (!given.ContainsKey("Max Auto Prepare")) builder.ConnectionStringBuilder.MaxAutoPrepare = 64;
        if (!given.ContainsKey("Auto Prepare Min Usages")) builder.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
        return builder.Build();
    }

    public static string RequiredConnectionString(IConfiguration configuration, string name) =>
        configuration.GetConnectionString(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"Configuration key 'ConnectionStrings:{name}' is missing (environment variable ConnectionStrings__{name}).");
}
