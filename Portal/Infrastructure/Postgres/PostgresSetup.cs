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
        builder.Services.AddSingleton(_ => new NpgsqlDataSourceBuilder(connectionString).Build());
        builder.Services.AddDbContextFactory<PortalDbContext>((sp, options) =>
            options.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>()));
        builder.Services.AddOptions<GroupCommitOptions>().BindConfiguration("GroupCommit").ValidateOnStart();
        builder.Services.AddSingleton<GroupCommitter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<GroupCommitter>());
        return builder;
    }

    public static string RequiredConnectionString(IConfiguration configuration, string name) =>
        configuration.GetConnectionString(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"Configuration key 'ConnectionStrings:{name}' is missing (environment variable ConnectionStrings__{name}).");
}
