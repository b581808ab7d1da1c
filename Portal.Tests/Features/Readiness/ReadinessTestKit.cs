using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Portal.Domain.MarketData;
using Portal.Features.Readiness;
using Portal.Features.Risk;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Readiness;

/// <summary>Settings and helpers shared by the readiness tests.</summary>
internal static class ReadinessTestKit
{
    /// <summary>A docs folder holding the four runbooks the checklist asks for (the real ones are written on another branch).</summary>
    public static string DocsWithAllRunbooks()
    {
        var folder = Directory.CreateTempSubdirectory("portal-docs-").FullName;
        foreach (var name in Checklist.Items.Where(i => i.Document is not null).Select(i => i.Document!))
            File.WriteAllText(Path.Combine(folder, name), $"# {name}\n\nWritten for the readiness tests.\n");
        return folder;
    }

    public static async Task<DrillRun> RunAsync(this PortalFactory portal, string drill)
    {
        var run = await portal.Get<DrillRunner>().TryRunAsync(drill, "test:readiness", CancellationToken.None);
        Assert.NotNull(run);
        return run;
    }

    /// <summary>The stored row and its audit record agree with what the runner returned.</summary>
    public static async Task AssertStoredAndAuditedAsync(this PortalFactory portal, DrillRun run)
    {
        var stored = await portal.Get<Checklist>().FindRunAsync(run.Id, CancellationToken.None);
        Assert.NotNull(stored);
        Assert.Equal(run.Ok, stored.Ok);
        Assert.Equal(run.Summary, stored.Summary);
        Assert.Equal(run.Figures, stored.Figures);
        Assert.True(stored.AuditSeq > 0);
        var record = await portal.Get<Checklist>().AuditRecordAsync(stored.AuditSeq, CancellationToken.None);
        Assert.NotNull(record);
        Assert.Equal(DrillRunner.AuditType, record.Value.GetProperty("type").GetString());
        Assert.Equal("drill:" + run.Drill, record.Value.GetProperty("subject").GetString());
        Assert.Equal(run.Id.ToString(), record.Value.GetProperty("payload").GetProperty("runId").GetString());
        Assert.Equal(run.Ok, record.Value.GetProperty("payload").GetProperty("ok").GetBoolean());
    }

    /// <summary>Passing evidence for every drill, stored with its audit record as the runner stores a run, <paramref name="age"/> ago.</summary>
    public static async Task SeedPassingEvidenceAsync(this PortalFactory portal, TimeSpan age, params string[] drills)
    {
        var at = DateTimeOffset.UtcNow - age;
        foreach (var drill in drills.Length == 0 ? Drills.All.Select(d => d.Id) : drills)
            await portal.Get<DrillRunner>().StoreAsync(
                new DrillRun(Guid.NewGuid(), drill, true, "seeded by the test", new Dictionary<string, string>(), "test:seed", at, at, 0), CancellationToken.None);
    }

    public static async Task<List<JsonElement>> AuditEventsAsync(this PortalFactory portal, string type)
    {
        await using var connection = new NpgsqlConnection(portal.AppConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select json_build_object('actor', actor, 'payload', payload)::text from audit_events where type = $1 order by seq", connection);
        command.Parameters.AddWithValue(type);
        var events = new List<JsonElement>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) events.Add(JsonDocument.Parse(reader.GetString(0)).RootElement.Clone());
        return events;
    }
}
