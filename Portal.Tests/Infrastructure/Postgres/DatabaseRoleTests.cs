using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Portal.Infrastructure.Postgres;
using Portal.Tests.Features.Audit;
using Portal.Tests.Features.Configuration;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Infrastructure.Postgres;

/// <summary>Portal refuses to run under a role that could switch off the audit trail's protections, and migrations never run as the application.</summary>
public sealed class DatabaseRoleTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;

    public async Task InitializeAsync() => _portal = await PortalFactory.StartAsync();

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    /// <summary>The guard Portal starts first (<see cref="PostgresSetup.AddPostgres"/>), over the given role's connection.</summary>
    private static async Task GuardAsync(string connectionString)
    {
        await using var db = Npgsql.NpgsqlDataSource.Create(connectionString);
        await new DatabaseRoleGuard(db).StartingAsync(CancellationToken.None);
    }

    [Fact]
    public async Task The_application_role_the_tests_use_passes() => await GuardAsync(_portal.AppConnectionString);

    [Fact]
    public async Task Start_up_is_refused_when_the_application_role_owns_the_audit_tables()
    {
        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => GuardAsync(_portal.OwnerConnectionString));

        Assert.Contains(refused.Failures, f => f.StartsWith("ConnectionStrings:Postgres: the application role 'portal_owner' owns", StringComparison.Ordinal)
            && f.Contains("audit_events (owner portal_owner)"));
    }

    [Fact]
    public async Task Start_up_is_refused_when_the_application_role_is_a_superuser()
    {
        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => GuardAsync(_portal.Superuser()));

        Assert.Contains(refused.Failures, f => f.Contains("is a superuser"));
    }

    [Fact]
    public async Task A_portal_started_under_the_owner_role_is_refused_before_it_writes_anything()
    {
        var (_, owner) = await (await TestServices.GetAsync()).CreateDatabaseAsync();

        var (exitCode, output) = await StartupValidationTests.RunPortalAsync(("ConnectionStrings__Postgres", owner));

        Assert.NotEqual(0, exitCode);
        Assert.Contains("the application role 'portal_owner' owns", output);
        // Not even the data-protection key, which every instance makes or reads before its other services start.
        Assert.Equal(0, await OrderRequests.ScalarAsync(owner, "select count(*) from data_protection_keys"));
        Assert.Equal(0, await OrderRequests.ScalarAsync(owner, "select count(*) from audit_events"));
    }

    [Fact]
    public void The_migrator_needs_the_owner_connection_and_refuses_the_application_role_in_its_place()
    {
        var appOnly = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = _portal.AppConnectionString,
        }).Build();
        var missing = Assert.ThrowsAny<Exception>(() => DatabaseMigrator.Migrate(appOnly, TextWriter.Null));
        Assert.Contains("PostgresMigrations", missing.Message);

        var appAsOwner = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = _portal.AppConnectionString,
            ["ConnectionStrings:PostgresMigrations"] = _portal.AppConnectionString,
        }).Build();
        var same = Assert.Throws<InvalidOperationException>(() => DatabaseMigrator.Migrate(appAsOwner, TextWriter.Null));
        Assert.Contains("names the application role", same.Message);
    }
}
