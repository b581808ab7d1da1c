using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Portal.Features.Auth;
using Portal.Features.Limits;
using Portal.Features.Orders;

namespace Portal.Infrastructure.Postgres;

/// <summary>EF Core over the schema that <c>migrations/</c> creates; EF never changes the schema itself.</summary>
public sealed class PortalDbContext(DbContextOptions<PortalDbContext> options) : DbContext(options)
{
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();
    public DbSet<LimitVersion> LimitVersions => Set<LimitVersion>();
    public DbSet<OrderRow> Orders => Set<OrderRow>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(PortalDbContext).Assembly);
}

internal sealed class ApiKeyConfiguration : IEntityTypeConfiguration<ApiKey>
{
    public void Configure(EntityTypeBuilder<ApiKey> b)
    {
        b.ToTable("api_keys");
        b.HasKey(k => k.Id);
        b.Property(k => k.Id).HasColumnName("id");
        b.Property(k => k.Name).HasColumnName("name");
        b.Property(k => k.KeyPrefix).HasColumnName("key_prefix");
        b.Property(k => k.KeyHash).HasColumnName("key_hash");
        b.Property(k => k.Scopes).HasColumnName("scopes");
        b.Property(k => k.Strategies).HasColumnName("strategies");
        b.Property(k => k.CreatedAt).HasColumnName("created_at");
        b.Property(k => k.RevokedAt).HasColumnName("revoked_at");
        b.Property(k => k.ExpiresAt).HasColumnName("expires_at");
        b.Property(k => k.Owner).HasColumnName("owner");
    }
}

internal sealed class LimitVersionConfiguration : IEntityTypeConfiguration<LimitVersion>
{
    public void Configure(EntityTypeBuilder<LimitVersion> b)
    {
        b.ToTable("limit_versions");
        b.HasKey(v => v.Version);
        b.Property(v => v.Version).HasColumnName("version");
        b.Property(v => v.LimitsJson).HasColumnName("limits").HasColumnType("jsonb");
        b.Property(v => v.State).HasColumnName("state");
        b.Property(v => v.Reason).HasColumnName("reason");
        b.Property(v => v.ProposedBy).HasColumnName("proposed_by");
        b.Property(v => v.ProposedAt).HasColumnName("proposed_at");
        b.Property(v => v.ApprovedBy).HasColumnName("approved_by");
        b.Property(v => v.ApprovedAt).HasColumnName("approved_at");
        b.Property(v => v.KeyOwner).HasColumnName("key_owner");
        b.Property(v => v.BasedOn).HasColumnName("based_on");
    }
}

internal sealed class OrderRowConfiguration : IEntityTypeConfiguration<OrderRow>
{
    public void Configure(EntityTypeBuilder<OrderRow> b)
    {
        b.ToTable("orders");
        b.HasKey(o => o.Id);
        b.Property(o => o.Id).HasColumnName("id");
        b.Property(o => o.ClientOrderId).HasColumnName("client_order_id");
        b.Property(o => o.RequestHash).HasColumnName("request_hash");
        b.Property(o => o.StrategyId).HasColumnName("strategy_id");
        b.Property(o => o.Symbol).HasColumnName("symbol");
        b.Property(o => o.Side).HasColumnName("side");
        b.Property(o => o.Quantity).HasColumnName("quantity");
        b.Property(o => o.OrderType).HasColumnName("order_type");
        b.Property(o => o.LimitPrice).HasColumnName("limit_price");
        b.Property(o => o.TimeInForce).HasColumnName("time_in_force");
        b.Property(o => o.Decision).HasColumnName("decision");
        b.Property(o => o.Reason).HasColumnName("reason");
        b.Property(o => o.LimitValue).HasColumnName("limit_value");
        b.Property(o => o.ActualValue).HasColumnName("actual_value");
        b.Property(o => o.Message).HasColumnName("message");
        b.Property(o => o.ReferencePrice).HasColumnName("reference_price");
        b.Property(o => o.Status).HasColumnName("status");
        b.Property(o => o.BrokerOrderId).HasColumnName("broker_order_id");
        b.Property(o => o.FilledQuantity).HasColumnName("filled_quantity");
        b.Property(o => o.AvgFillPrice).HasColumnName("avg_fill_price");
        b.Property(o => o.Actor).HasColumnName("actor");
        b.Property(o => o.CreatedAt).HasColumnName("created_at");
        b.Property(o => o.UpdatedAt).HasColumnName("updated_at");
    }
}
