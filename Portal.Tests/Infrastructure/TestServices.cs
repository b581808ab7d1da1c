using Microsoft.Extensions.Configuration;
using Npgsql;
using Portal.Infrastructure.Postgres;

namespace Portal.Tests.Infrastructure;

/// <summary>
/// The one Postgres cluster and Redis server shared by the test run. A migrated template database
/// is made once; each test host gets its own database copied from it (fast) and its own Redis key
/// prefix, so test classes run in parallel without seeing each other's state.
/// </summary>
public sealed class TestServices
{
    private static readonly Lazy<Task<TestServices>> Shared = new(CreateAsync);
    private static int _databaseCounter;
    private static readonly SemaphoreSlim CreateDatabaseGate = new(1, 1);

    private TestServices(PostgresServer postgres, RedisServer redis) { Postgres = postgres; Redis = redis; }

    public PostgresServer Postgres { get; }
    public RedisServer Redis { get; }

    public static Task<TestServices> GetAsync() => Shared.Value;

    private static async Task<TestServices> CreateAsync()
    {
        var postgres = await PostgresServer.StartAsync();
        var redis = await RedisServer.StartNewAsync();
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            redis.DisposeAsync().AsTask().GetAwaiter().GetResult();
            postgres.DisposeAsync().AsTask().GetAwaiter().GetResult();
        };
        await CreateRolesAndTemplateAsync(postgres);
        return new TestServices(postgres, redis);
    }

    /// <summary>Roles as in production: the owner runs migrations, the application role only reads and writes rows.</summary>
    public static async Task CreateRolesAndTemplateAsync(PostgresServer postgres)
    {
        await using (var connection = new NpgsqlConnection(postgres.ConnectionString("postgres")))
        {
            await connection.OpenAsync();
            foreach (var sql in new[]
                     {
                         $"create role portal_owner login password '{PostgresServer.OwnerPassword}'",
                         $"create role portal_app login password '{PostgresServer.AppPassword}'",
                         "create database portal_template owner portal_owner",
                     })
                await new NpgsqlCommand(sql, connection).ExecuteNonQueryAsync();
        }
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = postgres.ConnectionString("portal_template", "portal_app", PostgresServer.AppPassword),
            ["ConnectionStrings:PostgresMigrations"] = postgres.ConnectionString("portal_template", "portal_owner", PostgresServer.OwnerPassword),
        }).Build();
        DatabaseMigrator.Migrate(configuration, TextWriter.Null, Path.Combine(RepositoryRoot, "migrations"));
        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>A new database with the full schema; returns (app, owner) connection strings.</summary>
    public async Task<(string App, string Owner)> CreateDatabaseAsync()
    {
        var name = $"portal_test_{Interlocked.Increment(ref _databaseCounter)}_{Guid.NewGuid():N}"[..40];
        await CreateDatabaseGate.WaitAsync();
        try
        {
            await using var connection = new NpgsqlConnection(Postgres.ConnectionString("postgres"));
            await connection.OpenAsync();
            await new NpgsqlCommand($"create database {name} template portal_template owner portal_owner", connection).ExecuteNonQueryAsync();
        }
        finally
        {
            CreateDatabaseGate.Release();
        }
        return (Postgres.ConnectionString(name, "portal_app", PostgresServer.AppPassword),
            Postgres.ConnectionString(name, "portal_owner", PostgresServer.OwnerPassword));
    }

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Portal.sln"))) return dir.FullName;
        throw new InvalidOperationException("Portal.sln not found above " + AppContext.BaseDirectory);
    }
}
