using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using Microsoft.Extensions.Options;
using Portal.Domain.Audit;
using Portal.Features.Witness;

namespace Portal.Features.Audit;

/// <summary>What the witness holds for this log, as read back for a verification.</summary>
/// <param name="Checkpoints">The log's checkpoints the witness cosigned (each cosignature checked against the pinned witness key).</param>
/// <param name="Summary">For the report: how far the witness vouches, or why it was not consulted.</param>
public sealed record WitnessRecord(IReadOnlyList<SignedCheckpoint> Checkpoints, string Summary);

/// <summary>
/// Sends each new signed checkpoint to the witness (<c>Audit:Witness</c>, <see cref="WitnessServer"/>) with the
/// RFC 9162 consistency proof from the tree the witness last cosigned, within half a second of signing, and reads
/// back what the witness cosigned when the chain is verified. A refusal means the log no longer extends what the
/// witness vouched for (a removed or rewritten tail): it is logged as critical and shown by
/// <c>portal_audit_witness_ok</c>. The witness is optional (no <c>Url</c>: this does nothing).
/// </summary>
public sealed class AuditWitness(
    IHttpClientFactory httpClients, AuditChainStore store, IOptions<AuditOptions> options, ILogger<AuditWitness> logger) : BackgroundService
{
    public const string HttpClientName = "audit-witness";

    private readonly AuditOptions.WitnessSettings _settings = options.Value.Witness;
    private readonly Lazy<CheckpointVerifier> _witnessKey = new(() => CheckpointVerifier.FromPublicKeyPem(options.Value.Witness.ReadPublicKeyPem()));
    private readonly Uri? _baseUrl = options.Value.Witness.Enabled ? new Uri(options.Value.Witness.Url!.TrimEnd('/') + "/") : null;
    private long? _witnessSize;
    private string? _lastProblem;

    public bool Enabled => _settings.Enabled;

    /// <summary>Submits the newest signed checkpoint unless the witness already cosigned it; the witness's tree size afterwards, or null when it refused or was unreachable.</summary>
    public async Task<long?> SubmitLatestAsync(CancellationToken ct)
    {
        if (!Enabled) return null;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var oldSize = _witnessSize ?? 0;
            string body;
            long size;
            var (connection, transaction) = await store.OpenSnapshotAsync(ct);
            await using (connection)
            await using (transaction)
            {
                var latest = await store.LatestValidCheckpointAsync(connection, transaction, ct, notesOnly: true);
                // No checkpoint at all counts as size 0: if the witness cosigned more, that is gone too.
                size = latest?.Seq ?? 0;
                if (oldSize > size)
                    return Problem($"the witness cosigned tree size {oldSize} but this log's newest checkpoint is of size {size}: events {size + 1}..{oldSize} it vouched for are gone");
                if (latest is null || size == _witnessSize) return _witnessSize;
                var proof = await AuditMerkleStore.ProveAsync(connection, transaction, subtree => MerkleTree.ConsistencyProof(oldSize, size, subtree), ct);
                if (proof is null) return Problem("the stored Merkle tree is incomplete: no consistency proof can be built");
                body = new AddCheckpointRequest(oldSize, proof, latest.ToNote()).Format();
            }

            using var response = await httpClients.CreateClient(HttpClientName).PostAsync(
                new Uri(_baseUrl!, "add-checkpoint"), new StringContent(body, Encoding.UTF8, "text/plain"), ct);
            var answer = await response.Content.ReadAsStringAsync(ct);
            switch (response.StatusCode)
            {
                case HttpStatusCode.OK:
                    _witnessSize = size;
                    AuditMetrics.WitnessedSeq.Set(size);
                    AuditMetrics.WitnessOk.Set(1);
                    if (_lastProblem is not null) logger.LogInformation("The audit witness cosigns again, at tree size {Size}", size);
                    _lastProblem = null;
                    return size;
                case HttpStatusCode.Conflict when long.TryParse(answer.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var witnessSize):
                    // Another instance got there first, or this one restarted: prove from the size the witness has.
                    _witnessSize = witnessSize;
                    continue;
                case HttpStatusCode.UnprocessableEntity:
                    return Problem($"the witness refused tree size {size}: it does not extend the tree of size {oldSize} the witness cosigned, so events up to {oldSize} were removed or rewritten ({answer.Trim()})");
                default:
                    return Problem($"the witness answered {(int)response.StatusCode}: {answer.Trim()}");
            }
        }
        return Problem("the witness kept answering with a different tree size");
    }

    /// <summary>How many cosigned checkpoints one read asks the witness for (its maximum; tests page with fewer).</summary>
    internal int CosignedPageSize { get; set; } = WitnessServer.MaxPage;

    /// <summary>Everything the witness cosigned for this log. Cosignatures that do not verify with the pinned witness key are left out and counted in the summary.</summary>
    public async Task<WitnessRecord> ReadCosignedAsync(CancellationToken ct)
    {
        if (!Enabled) return new([], "no witness configured");
        var records = new List<CosignedCheckpoint>();
        try
        {
            var client = httpClients.CreateClient(HttpClientName);
            // Page after page, each starting above the last size read, until one is not full.
            for (var after = 0L; ; )
            {
                var url = new Uri(_baseUrl!, $"cosigned?origin={Uri.EscapeDataString(options.Value.Origin)}&after={after}&limit={CosignedPageSize}");
                var page = await client.GetFromJsonAsync<List<CosignedCheckpoint>>(url, ct) ?? [];
                // Sizes only grow; a page that goes back would make this loop forever.
                if (page.Any(r => r.Size <= after)) return new([], "witness not consulted: it answered a page out of order");
                records.AddRange(page);
                if (page.Count < CosignedPageSize) break;
                after = page[^1].Size;
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException && !ct.IsCancellationRequested)
        {
            return new([], $"witness not consulted: {ex.Message}");
        }

        var checkpoints = new List<SignedCheckpoint>();
        var invalid = 0;
        foreach (var record in records)
        {
            var checkpoint = CheckpointNote.TrySplit(record.Note, out var text, out var signatures) ? CheckpointNote.Parse(record.Note) : null;
            var cosigned = checkpoint is not null && signatures.Any(s => s.KeyName == _settings.Name
                && WitnessCosignature.TryVerify(_witnessKey.Value, _settings.Name!, text, s.Signature, out _));
            if (cosigned) checkpoints.Add(checkpoint!);
            else invalid++;
        }
        var summary = checkpoints.Count == 0 ? "the witness has cosigned nothing yet" : $"the witness cosigned through tree size {checkpoints.Max(c => c.Seq)}";
        return new(checkpoints, invalid == 0 ? summary : $"{summary}; {invalid} of its records carry no valid cosignature and were ignored");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!Enabled) return;
        // As often as the checkpointer looks: a control event's checkpoint reaches the witness within about a second.
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(0.5));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await SubmitLatestAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                Problem($"the witness could not be reached: {ex.Message}", critical: false);
            }
        }
    }

    private long? Problem(string problem, bool critical = true)
    {
        AuditMetrics.WitnessOk.Set(0);
        if (problem != _lastProblem)
        {
            if (critical) logger.LogCritical("AUDIT WITNESS: {Problem}", problem);
            else logger.LogWarning("Audit witness: {Problem}; retrying", problem);
        }
        _lastProblem = problem;
        return null;
    }
}
