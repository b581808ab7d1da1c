using Npgsql;

namespace Portal.Scenarios;

/// <summary>
/// What Postgres holds against what Portal answered, for every clientOrderId of the run:
/// an acknowledged decision (201, 422, 502) has exactly one row with that decision and exactly one audit decision
/// event; a 400 left nothing; every accepted row that reached the broker is one paper-broker order, and no
/// broker order exists without it; nothing is left pending_submit.
/// </summary>
public static class Reconciliation
{
    public static async Task RunAsync(Report report, string connectionString, string runId, IReadOnlyCollection<Sent> sent, bool paperBroker = true)
    {
        var rows = new Dictionary<string, (string Decision, string Status)>(StringComparer.Ordinal);
        var auditEvents = new Dictionary<string, int>(StringComparer.Ordinal);
        var brokerOrders = new Dictionary<string, int>(StringComparer.Ordinal);
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            var prefix = runId + "-";
            await using (var command = new NpgsqlCommand("select client_order_id, decision, status from orders where starts_with(client_order_id, $1)", connection))
            {
                command.Parameters.AddWithValue(prefix);
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync()) rows[reader.GetString(0)] = (reader.GetString(1), reader.GetString(2));
            }
            await using (var command = new NpgsqlCommand(
                "select substr(subject, 7), count(*) from audit_events where type in ('order.accepted', 'order.rejected') and starts_with(subject, 'order:' || $1) group by subject", connection))
            {
                command.Parameters.AddWithValue(prefix);
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync()) auditEvents[reader.GetString(0)] = (int)reader.GetInt64(1);
            }
            if (paperBroker)
            {
                await using var command = new NpgsqlCommand("select client_order_id, count(*) from paper_orders where starts_with(client_order_id, $1) group by client_order_id", connection);
                command.Parameters.AddWithValue(prefix);
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync()) brokerOrders[reader.GetString(0)] = (int)reader.GetInt64(1);
            }
        }

        var acknowledged = sent.Where(s => s.Answer.Status is 201 or 422 or 502 && s.Kind != OrderKind.Malformed).ToList();
        var missing = acknowledged.Where(s => !rows.TryGetValue(s.ClientOrderId, out var row)
            || row.Decision != (s.Answer.Status == 422 ? "rejected" : "accepted")).Select(s => s.ClientOrderId).Distinct().ToList();
        report.Expect(missing.Count == 0,
            $"every acknowledged decision has its row with the same decision: {acknowledged.Count} answers, {missing.Count} without{Sample(missing)}");

        var malformedIds = sent.Where(s => s.Kind == OrderKind.Malformed).Select(s => s.ClientOrderId).ToHashSet(StringComparer.Ordinal);
        var persistedMalformed = malformedIds.Where(rows.ContainsKey).ToList();
        report.Expect(persistedMalformed.Count == 0 && sent.Where(s => s.Kind == OrderKind.Malformed).All(s => s.Answer.Status is 400 or 0 or 503),
            $"malformed requests answered 400 and left no row: {malformedIds.Count} sent, {persistedMalformed.Count} rows{Sample(persistedMalformed)}");

        var sentIds = sent.Select(s => s.ClientOrderId).ToHashSet(StringComparer.Ordinal);
        var strangers = rows.Keys.Where(id => !sentIds.Contains(id)).ToList();
        report.Expect(strangers.Count == 0, $"no row for an id never sent: {strangers.Count}{Sample(strangers)}");

        var badAudit = rows.Keys.Where(id => auditEvents.GetValueOrDefault(id) != 1).Concat(auditEvents.Keys.Where(id => !rows.ContainsKey(id))).ToList();
        report.Expect(badAudit.Count == 0, $"every row has exactly one audit decision event: {rows.Count} rows, {auditEvents.Values.Sum()} events, {badAudit.Count} off{Sample(badAudit)}");

        var repeats = sent.Where(s => s.Kind == OrderKind.Repeat && s.Answer.Status is not (0 or 503)).ToList();
        var changed = repeats.Where(s => s.Answer.Status != s.ExpectedStatus).Select(s => $"{s.ClientOrderId} {s.ExpectedStatus}->{s.Answer.Status}").ToList();
        report.Expect(changed.Count == 0, $"a repeated clientOrderId gets the first decision again: {repeats.Count} repeats, {changed.Count} differ{Sample(changed)}");

        var pending = rows.Where(r => r.Value.Status == "pending_submit").Select(r => r.Key).ToList();
        report.Expect(pending.Count == 0, $"no order left pending_submit (sent or not, it is resolved): {pending.Count}{Sample(pending)}");

        if (!paperBroker) return;
        var accepted = rows.Where(r => r.Value.Decision == "accepted" && r.Value.Status is not ("submit_failed" or "pending_submit")).Select(r => r.Key).ToHashSet(StringComparer.Ordinal);
        var notAtBroker = accepted.Where(id => !brokerOrders.ContainsKey(id)).ToList();
        var brokerWithout = brokerOrders.Keys.Where(id => !accepted.Contains(id)).ToList();
        report.Expect(notAtBroker.Count == 0 && brokerWithout.Count == 0,
            $"accepted orders = broker orders: {accepted.Count} accepted, {brokerOrders.Count} at the broker, {notAtBroker.Count} missing there{Sample(notAtBroker)}, {brokerWithout.Count} without an accepted row{Sample(brokerWithout)}");
        var duplicates = brokerOrders.Where(b => b.Value > 1).Select(b => b.Key).ToList();
        report.Expect(duplicates.Count == 0, $"no clientOrderId twice at the broker: {duplicates.Count}{Sample(duplicates)}");
    }

    /// <summary>Waits until no order of the run is pending_submit (the unsent-order resolver's job after a crash); returns the wait.</summary>
    public static async Task<double> WaitForNoPendingAsync(string connectionString, string runId, TimeSpan timeout)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("select count(*) from orders where status = 'pending_submit' and starts_with(client_order_id, $1)", connection);
            command.Parameters.AddWithValue(runId + "-");
            if ((long)(await command.ExecuteScalarAsync())! == 0) break;
            await Task.Delay(500);
        }
        return watch.Elapsed.TotalMilliseconds;
    }

    public static string Sample(IReadOnlyCollection<string> ids) => ids.Count == 0 ? "" : $" (e.g. {string.Join(", ", ids.Take(3))})";
}
