using Portal.Features.Readiness;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Readiness;

public sealed class ChecklistTests
{
    [Fact]
    public async Task Without_evidence_every_drill_item_is_red_and_missing_runbooks_are_red()
    {
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?> { ["Readiness:DocsPath"] = Directory.CreateTempSubdirectory().FullName });

        var checklist = await portal.Get<Checklist>().ComputeAsync(CancellationToken.None);

        Assert.Equal(14, checklist.Items.Count);
        Assert.Equal([Checklist.MustHaveWorking, Checklist.MustTest, Checklist.MustDocument], checklist.Items.Select(i => i.Section).Distinct());
        Assert.All(checklist.Items, item => Assert.Equal(ItemStatus.Red, item.Status));
        Assert.False(checklist.AllGreen);
    }

    [Fact]
    public async Task Passing_evidence_is_green_while_fresh_and_amber_once_older_than_the_configured_age()
    {
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?>
        {
            ["Readiness:DocsPath"] = ReadinessTestKit.DocsWithAllRunbooks(), ["Readiness:EvidenceMaxAge"] = "1.00:00:00",
        });
        await portal.SeedPassingEvidenceAsync(TimeSpan.FromHours(1));
        await portal.SeedPassingEvidenceAsync(TimeSpan.FromHours(2)); // older runs never hide the newest
        Assert.True((await portal.Get<Checklist>().ComputeAsync(CancellationToken.None)).AllGreen);

        await portal.SeedPassingEvidenceAsync(TimeSpan.FromHours(25), Drills.ManualStop);
        await using (var connection = new Npgsql.NpgsqlConnection(portal.OwnerConnectionString))
        {
            await connection.OpenAsync();
            await using var drop = new Npgsql.NpgsqlCommand("delete from drill_runs where drill = 'manual-stop' and finished_at > now() - interval '24 hours'", connection);
            await drop.ExecuteNonQueryAsync();
        }

        var checklist = await portal.Get<Checklist>().ComputeAsync(CancellationToken.None);
        Assert.Equal(ItemStatus.Amber, checklist.Items.Single(i => i.Key == "manual-stop").Status);
        Assert.Equal(ItemStatus.Amber, checklist.Items.Single(i => i.Key == "kill-switch").Status);
        Assert.Equal(ItemStatus.Green, checklist.Items.Single(i => i.Key == "million-order").Status);
    }

    [Fact]
    public async Task Drill_runs_rows_forged_with_the_application_role_do_not_turn_an_item_green()
    {
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?> { ["Readiness:DocsPath"] = ReadinessTestKit.DocsWithAllRunbooks() });
        await portal.SeedPassingEvidenceAsync(TimeSpan.FromHours(2), Drills.Limits);
        var failed = await portal.Get<DrillRunner>().StoreAsync(new DrillRun(Guid.NewGuid(), Drills.MillionOrder, false, "refused: PriceCollar",
            new Dictionary<string, string>(), "test:genuine", DateTimeOffset.UtcNow.AddHours(-2), DateTimeOffset.UtcNow.AddHours(-2), 0), CancellationToken.None);

        // Newer passing rows, as anyone holding the application role could insert them: one naming no audit record, one
        // naming the genuine failed run's record (its seq and hash), and one naming the passing limits run's record.
        await using (var connection = new Npgsql.NpgsqlConnection(portal.AppConnectionString))
        {
            await connection.OpenAsync();
            await using var forge = new Npgsql.NpgsqlCommand("""
                insert into drill_runs (id, drill, ok, summary, figures, actor, started_at, finished_at, audit_seq, audit_hash)
                select gen_random_uuid(), 'million-order', true, 'forged', '{}'::jsonb, 'mallory', now(), now(), 0, null
                union all
                select gen_random_uuid(), 'million-order', true, 'forged', '{}'::jsonb, 'mallory', now(), now(), d.audit_seq, d.audit_hash
                from drill_runs d where d.drill = 'million-order'
                union all
                select gen_random_uuid(), 'million-order', true, 'forged', '{}'::jsonb, 'mallory', now(), now(), d.audit_seq, d.audit_hash
                from drill_runs d where d.drill = 'limits'
                """, connection);
            Assert.Equal(3, await forge.ExecuteNonQueryAsync());
        }

        var checklist = await portal.Get<Checklist>().ComputeAsync(CancellationToken.None);
        var item = checklist.Items.Single(i => i.Key == "million-order");
        Assert.Equal(ItemStatus.Red, item.Status);
        Assert.StartsWith("Failed: ", item.Detail);
        Assert.Equal(failed.Id, item.Evidence?.Id);
        Assert.Equal(ItemStatus.Green, checklist.Items.Single(i => i.Key == "risk-limits").Status);
    }

    [Fact]
    public async Task A_max_order_value_configured_off_fails_the_million_dollar_drill_and_turns_its_item_red()
    {
        // At $2M the max order value lets a $1M order through: only the price collar stops the drill's order.
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?>
        {
            ["Risk:Ceilings:MaxOrderValueUsd"] = "2000000", ["Risk:InitialLimits:MaxOrderValueUsd"] = "2000000",
        });
        portal.SetPrice("AAPL", 100m);

        var run = await portal.RunAsync(Drills.MillionOrder);

        Assert.False(run.Ok);
        Assert.Equal("refused: PriceCollar", run.Figures["answer"]);
        await portal.AssertStoredAndAuditedAsync(run);
        var item = (await portal.Get<Checklist>().ComputeAsync(CancellationToken.None)).Items.Single(i => i.Key == "million-order");
        Assert.Equal(ItemStatus.Red, item.Status);
        Assert.StartsWith("Failed: ", item.Detail);
        // Nothing reached the broker.
        Assert.Equal(0, await OrderRequests.ScalarAsync(portal.AppConnectionString, "select count(*) from paper_orders"));
    }

    [Fact]
    public async Task A_drawdown_limit_of_100_percent_cannot_be_breached_and_fails_the_limits_drill()
    {
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?>
        {
            ["Risk:Ceilings:MaxDrawdownPct"] = "1", ["Risk:InitialLimits:MaxDrawdownPct"] = "1",
        });
        portal.SetPrice("AAPL", 100m);

        var run = await portal.RunAsync(Drills.Limits);

        Assert.False(run.Ok);
        Assert.Contains("MaxDrawdown", run.Summary);
        Assert.Equal("cannot be breached", run.Figures["MaxDrawdown"]);
        Assert.Equal(ItemStatus.Red, (await portal.Get<Checklist>().ComputeAsync(CancellationToken.None)).Items.Single(i => i.Key == "risk-limits").Status);
    }

    [Fact]
    public async Task A_tick_rule_configured_off_turns_the_bad_ticks_item_red()
    {
        // A 10,000 % allowed jump: the rule is effectively off, so a tripled price is taken as valid.
        await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?> { ["MarketData:Rules:MaxChangePct"] = "100" });
        portal.SetPrice("AAPL", 100m);

        var run = await portal.RunAsync(Drills.BadTicks);

        Assert.False(run.Ok);
        Assert.Equal("accepted", run.Figures["PriceJump"]);
        Assert.Equal(ItemStatus.Red, (await portal.Get<Checklist>().ComputeAsync(CancellationToken.None)).Items.Single(i => i.Key == "bad-ticks").Status);
    }
}
