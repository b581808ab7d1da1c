using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Identity;

/// <summary>migrations/0004_identity.sql and 0021_identity_passkeys.sql are written by hand; together they must be exactly what Identity's EF model (schema version 3) expects.</summary>
public sealed class IdentitySchemaTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;

    public async Task InitializeAsync() => _portal = await PortalFactory.StartAsync();

    public async Task DisposeAsync() => await _portal.DisposeAsync();

    [Fact]
    public async Task The_sql_tables_match_identitys_model_column_for_column()
    {
        await using var scope = _portal.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PortalIdentityDbContext>();
        var model = db.GetService<IDesignTimeModel>().Model.GetRelationalModel();
        var expected = model.Tables
            .SelectMany(t => t.Columns.Select(c => $"{t.Name}.{c.Name} {c.StoreType}{(c.IsNullable ? "" : " not null")}"
                + (c.PropertyMappings.Any(m => m.Property.ValueGenerated == Microsoft.EntityFrameworkCore.Metadata.ValueGenerated.OnAdd && m.Property.ClrType == typeof(int)) ? " identity" : "")))
            .Order(StringComparer.Ordinal).ToList();
        var tables = model.Tables.Select(t => t.Name).ToArray();

        var actual = new List<string>();
        await using (var connection = new NpgsqlConnection(_portal.AppConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("""
                select table_name, column_name, data_type, character_maximum_length, is_nullable, is_identity
                from information_schema.columns where table_schema = 'public' and table_name = any($1)
                """, connection);
            command.Parameters.AddWithValue(tables);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var type = reader.GetString(2) + (reader.IsDBNull(3) ? "" : $"({reader.GetInt32(3)})");
                actual.Add($"{reader.GetString(0)}.{reader.GetString(1)} {type}{(reader.GetString(4) == "NO" ? " not null" : "")}{(reader.GetString(5) == "YES" ? " identity" : "")}");
            }
        }
        Assert.Equal(8, tables.Length);
        Assert.Equal(expected, actual.Order(StringComparer.Ordinal).ToList());
    }

    [Fact]
    public async Task Keys_indexes_and_foreign_keys_are_the_ones_identity_names()
    {
        await using var scope = _portal.Services.CreateAsyncScope();
        var model = scope.ServiceProvider.GetRequiredService<PortalIdentityDbContext>().GetService<IDesignTimeModel>().Model.GetRelationalModel();
        var expected = model.Tables.SelectMany(t =>
                t.Indexes.Select(i => $"index {i.Name}{(i.IsUnique ? " unique" : "")} ({string.Join(",", i.Columns.Select(c => c.Name))})")
                    .Concat(t.UniqueConstraints.Select(u => $"constraint {u.Name} ({string.Join(",", u.Columns.Select(c => c.Name))})"))
                    .Concat(t.ForeignKeyConstraints.Select(f => $"foreign key {f.Name} ({string.Join(",", f.Columns.Select(c => c.Name))}) on delete {f.OnDeleteAction}")))
            .Order(StringComparer.Ordinal).ToList();

        var actual = new List<string>();
        await using var connection = new NpgsqlConnection(_portal.AppConnectionString);
        await connection.OpenAsync();
        await using (var command = new NpgsqlCommand("""
            select i.relname, ix.indisunique, ix.indisprimary,
                   array(select a.attname from unnest(ix.indkey) with ordinality k(attnum, n)
                         join pg_attribute a on a.attrelid = t.oid and a.attnum = k.attnum order by k.n)
            from pg_index ix join pg_class i on i.oid = ix.indexrelid join pg_class t on t.oid = ix.indrelid
            where t.relname like 'AspNet%'
            """, connection))
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync())
            {
                var columns = string.Join(",", reader.GetFieldValue<string[]>(3));
                actual.Add(reader.GetBoolean(2) ? $"constraint {reader.GetString(0)} ({columns})"
                    : $"index {reader.GetString(0)}{(reader.GetBoolean(1) ? " unique" : "")} ({columns})");
            }
        await using (var command = new NpgsqlCommand("""
            select c.conname, c.confdeltype,
                   array(select a.attname from unnest(c.conkey) with ordinality k(attnum, n)
                         join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum order by k.n)
            from pg_constraint c join pg_class t on t.oid = c.conrelid
            where c.contype = 'f' and t.relname like 'AspNet%'
            """, connection))
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync())
                actual.Add($"foreign key {reader.GetString(0)} ({string.Join(",", reader.GetFieldValue<string[]>(2))}) on delete {(reader.GetChar(1) == 'c' ? "Cascade" : reader.GetChar(1).ToString())}");

        Assert.Equal(expected, actual.Order(StringComparer.Ordinal).ToList());
    }

    [Fact]
    public async Task The_four_roles_exist_and_the_app_role_can_use_the_tables()
    {
        await using var scope = _portal.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PortalIdentityDbContext>();
        var roles = await db.Roles.Select(r => new { r.Name, r.NormalizedName }).ToListAsync();
        Assert.Equal(Roles.All.Order(), roles.Select(r => r.Name!).Order());
        Assert.All(roles, r => Assert.Equal(r.Name!.ToUpperInvariant(), r.NormalizedName));

        // The host runs as the application role (portal_app), which the migration grants row access only.
        var user = await _portal.CreateUserAsync(Roles.Admin);
        Assert.True(await db.Users.AnyAsync(u => u.Email == user.Email));
        Assert.True(await OrderRequests.ScalarAsync(_portal.AppConnectionString, "select count(*) from data_protection_keys") >= 0);
    }
}
