using System.Net;
using System.Text;
using Portal.Features.Audit;
using Portal.Domain.Audit;
using Portal.Features.Auth;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Audit;

public sealed class AuditExportTests : IAsyncLifetime
{
    private PortalFactory _portal = null!;
    private HttpClient _client = null!;
    private string _dir = null!;
    private long _head;

    public async Task InitializeAsync()
    {
        _portal = await PortalFactory.StartAsync();
        _client = await _portal.ClientWithScopesAsync(Scopes.Audit);
        await _portal.AppendAsync(300);
        _head = await _portal.HeadSeqAsync();
        await _portal.CheckpointAtLeastAsync(_head);
        _dir = Directory.CreateTempSubdirectory("portal-export-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _portal.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Downloads an export, its manifest and the public key; returns the verifier's exit code and output.</summary>
    private async Task<(string Export, string Manifest, string Key)> DownloadAsync(string range)
    {
        var export = await _client.GetAsync($"/api/audit/export?{range}&format=jsonl");
        Assert.Equal(HttpStatusCode.OK, export.StatusCode);
        var from = export.Headers.GetValues("Audit-Export-From").Single();
        var to = export.Headers.GetValues("Audit-Export-To").Single();
        var manifest = await _client.GetStringAsync($"/api/audit/export/manifest?from={from}&to={to}");
        var key = await _portal.CreateClient().GetStringAsync("/api/audit/public-key");
        var paths = (Path.Combine(_dir, "export.jsonl"), Path.Combine(_dir, "manifest.json"), Path.Combine(_dir, "key.pem"));
        await File.WriteAllBytesAsync(paths.Item1, await export.Content.ReadAsByteArrayAsync());
        await File.WriteAllTextAsync(paths.Item2, manifest);
        await File.WriteAllTextAsync(paths.Item3, key);
        return paths;
    }

    private static (int Exit, string Output) VerifyOffline((string Export, string Manifest, string Key) files)
    {
        var output = new StringWriter();
        var exit = AuditCli.VerifyExportFile([files.Export, "--manifest", files.Manifest, "--public-key", files.Key], output, output);
        return (exit, output.ToString());
    }

    [Fact]
    public async Task An_exported_range_passes_the_offline_verifier()
    {
        var files = await DownloadAsync($"from=101&to={_head}");

        var (exit, output) = VerifyOffline(files);
        Assert.True(exit == 0, output);
        // A checkpoint may also have been signed while the 300 events were appended: at least one covers the range.
        Assert.Matches($@"^OK: {_head - 100} lines, [1-9]\d* signed checkpoint\(s\) verified\.", output);
        Assert.Equal(_head - 100, File.ReadLines(files.Export).Count());
    }

    [Fact]
    public async Task A_bundle_holds_the_export_its_signed_manifest_and_the_key_and_passes_the_offline_verifier_as_unpacked()
    {
        var bundle = await _client.GetAsync($"/api/audit/export/bundle?from=101&to={_head}");
        Assert.Equal(HttpStatusCode.OK, bundle.StatusCode);
        Assert.Equal($"audit-seq-101-{_head}.zip", bundle.Content.Headers.ContentDisposition!.FileName!.Trim('"'));

        var unpacked = Directory.CreateDirectory(Path.Combine(_dir, "bundle")).FullName;
        await using (var zip = await bundle.Content.ReadAsStreamAsync())
            System.IO.Compression.ZipFile.ExtractToDirectory(zip, unpacked);
        var export = $"audit-seq-101-{_head}.jsonl";
        Assert.Equal(["README.txt", export, "manifest", "portal-audit.pem"], Directory.GetFiles(unpacked).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Contains($"verify-audit-export {export} --manifest manifest --public-key portal-audit.pem", await File.ReadAllTextAsync(Path.Combine(unpacked, "README.txt")));

        var (exit, output) = VerifyOffline((Path.Combine(unpacked, export), Path.Combine(unpacked, "manifest"), Path.Combine(unpacked, "portal-audit.pem")));
        Assert.True(exit == 0, output);
        Assert.StartsWith($"OK: {_head - 100} lines", output);
    }

    [Fact]
    public async Task A_csv_bundle_is_refused_naming_the_format()
    {
        var refused = await _client.GetAsync("/api/audit/export/bundle?format=csv");

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.True((await refused.JsonAsync()).GetProperty("errors").TryGetProperty("format", out _));
    }

    [Fact]
    public async Task One_edited_byte_is_named_by_its_line()
    {
        var files = await DownloadAsync($"from=101&to={_head}");
        var lines = await File.ReadAllLinesAsync(files.Export);
        // Line 37's canonical bytes: change one base64 digit inside them.
        var at = lines[36].IndexOf("\"canonical\":\"", StringComparison.Ordinal) + 40;
        var chars = lines[36].ToCharArray();
        chars[at] = chars[at] == 'A' ? 'B' : 'A';
        lines[36] = new string(chars);
        await File.WriteAllTextAsync(files.Export, string.Join('\n', lines) + "\n");

        var (exit, output) = VerifyOffline(files);
        Assert.Equal(1, exit);
        Assert.StartsWith("FAILED at line 37:", output);
    }

    [Fact]
    public async Task An_export_without_a_checkpoint_inside_is_proven_through_its_last_record_in_a_later_tree_head()
    {
        // The background checkpointer may have signed anywhere among the 300 appends: take 11 records none of them covers.
        var from = await OrderRequests.ScalarAsync(_portal.AppConnectionString, """
            select min(previous + 1) from (select seq, coalesce(lag(seq) over (order by seq), 0) as previous from audit_checkpoints) c
            where seq - previous > 11
            """);
        var (exit, output) = VerifyOffline(await DownloadAsync($"from={from}&to={from + 10}"));

        Assert.True(exit == 0, output);
        Assert.StartsWith("OK: 11 lines, 0 signed checkpoint(s) verified.", output);
        Assert.DoesNotContain("Warning", output);
    }

    [Fact]
    public async Task Every_export_is_audited_with_who_and_which_range()
    {
        await DownloadAsync("from=5&to=9");

        var exported = Assert.Single(await _portal.EventsAsync(AuditApi.ExportedType));
        Assert.StartsWith("apikey:", exported.Actor);
        Assert.Equal(5, exported.Payload.GetProperty("from").GetInt64());
        Assert.Equal(9, exported.Payload.GetProperty("to").GetInt64());
        Assert.Equal("jsonl", exported.Payload.GetProperty("format").GetString());
    }

    [Fact]
    public async Task A_csv_export_can_be_filtered_by_type_and_actor_and_quotes_json()
    {
        var export = await _client.GetAsync($"/api/audit/export?format=csv&types=test.even&actor=test:writer&from=1&to={_head}");
        var csv = await export.Content.ReadAsStringAsync();

        // Named by what it holds, for a folder of exports handed over.
        Assert.Equal($"audit-test.even-actor-test_writer-seq-1-{_head}.csv", export.Content.Headers.ContentDisposition!.FileName!.Trim('"'));
        var rows = csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("seq,time,actor,actor_name,type,subject,payload,prev_hash,hash", rows[0]);
        Assert.Equal(150, rows.Length - 1);
        Assert.All(rows.Skip(1), r => Assert.Contains(",test:writer,,test.even,", r));
        Assert.Contains(",\"{\"\"i\"\": 2, ", rows[1]);
    }

    [Fact]
    public async Task A_csv_export_names_each_actor_beside_the_recorded_id_as_the_audit_list_does()
    {
        var person = await _portal.CreateUserAsync(Roles.Compliance);
        string userId;
        await using (var db = Npgsql.NpgsqlDataSource.Create(_portal.AppConnectionString))
        await using (var command = db.CreateCommand("select \"Id\" from \"AspNetUsers\" where \"Email\" = $1"))
        {
            command.Parameters.AddWithValue(person.Email);
            userId = (string)(await command.ExecuteScalarAsync())!;
        }
        await _portal.Get<AuditTrail>().AppendAsync(AuditEventDraft.Create(DateTimeOffset.UtcNow, userId, "test.named", "item:person", new { note = "by a person" }));
        await DownloadAsync("from=5&to=9"); // audited as done by this test's API key

        var csv = await (await _client.GetAsync("/api/audit/export?format=csv&types=test.named,audit.exported,test.even")).Content.ReadAsStringAsync();

        var rows = csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("seq,time,actor,actor_name,type,subject,payload,prev_hash,hash", rows[0]);
        Assert.Contains($",{userId},{person.Email},test.named,item:person,", Assert.Single(rows, r => r.Contains(",test.named,", StringComparison.Ordinal)));
        var byKey = rows.Where(r => r.Contains(",audit.exported,", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(byKey);
        Assert.All(byKey, r => Assert.Matches(@"^\d+,[^,]+,apikey:[0-9a-f-]{36},test-[0-9a-f]{12},audit\.exported,", r));
        // A system actor (here the test writer) has no name: its cell is empty.
        Assert.All(rows.Where(r => r.Contains(",test.even,", StringComparison.Ordinal)), r => Assert.Contains(",test:writer,,test.even,", r));
    }

    [Fact]
    public async Task A_time_range_selects_the_events_in_it()
    {
        // Test events are a millisecond apart from 2025-03-14T09:00:00Z: 10..19 ms holds events 10..19.
        var export = await _client.GetAsync("/api/audit/export?format=csv&from=2025-03-14T09:00:00.010Z&to=2025-03-14T09:00:00.020Z");
        Assert.Matches(@"^audit-from-20250314T0900Z-to-20250314T0900Z-seq-\d+-\d+\.csv$", export.Content.Headers.ContentDisposition!.FileName!.Trim('"'));

        var rows = (await export.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(11, rows.Length);
        Assert.Contains("\"{\"\"i\"\": 10,", rows[1]);
    }

    [Theory]
    [InlineData("format=xml", "format")]
    [InlineData("from=abc", "from")]
    [InlineData("to=-3", "to")]
    [InlineData("format=jsonl&types=order.accepted", "types")]
    [InlineData("actor=someone", "actor")]
    public async Task A_bad_request_is_a_problem_naming_the_field(string query, string field)
    {
        var response = await _client.GetAsync("/api/audit/export?" + query);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.JsonAsync()).GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public async Task Export_needs_the_audit_scope_and_the_public_key_needs_nothing()
    {
        var orders = await _portal.ClientWithScopesAsync(Scopes.Orders);

        Assert.Equal(HttpStatusCode.Forbidden, (await orders.GetAsync("/api/audit/export")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _portal.CreateClient().GetAsync("/api/audit/export")).StatusCode);
        var key = await _portal.CreateClient().GetAsync("/api/audit/public-key");
        Assert.Equal(HttpStatusCode.OK, key.StatusCode);
        Assert.StartsWith("-----BEGIN PUBLIC KEY-----", Encoding.ASCII.GetString(await key.Content.ReadAsByteArrayAsync()));
        Assert.Equal(_portal.Get<AuditKeys>().KeyId, key.Headers.GetValues("Audit-Key-Id").Single());
    }
}
