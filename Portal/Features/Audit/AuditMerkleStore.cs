using Npgsql;
using NpgsqlTypes;
using Portal.Domain.Audit;

namespace Portal.Features.Audit;

/// <summary>
/// The Merkle tree's complete subtree hashes in <c>audit_merkle_nodes</c> (migrations/0016_audit_merkle.sql): extended by
/// the checkpointer before it signs a tree head, read to build inclusion and consistency proofs in a few index lookups.
/// Only subtrees of at least <see cref="StoredBlock"/> leaves are stored; a smaller one is computed from the events of
/// the block that holds it when a proof or the next extension asks for it.
/// </summary>
public static class AuditMerkleStore
{
    private const int ReadChunk = 10_000;
    private const int InsertChunk = 20_000;

    /// <summary>
    /// log2 of <see cref="StoredBlock"/>. Storing every level cost about two node rows per event, written in the
    /// background of every order; from 16 leaves up it is one row per eight events, and a proof reads at most a few
    /// blocks of 16 events to compute the rest.
    /// </summary>
    public const int StoredFromLevel = 4;

    public const int StoredBlock = 1 << StoredFromLevel;

    /// <summary>
    /// An extension of the stored tree, opened at the last note checkpoint's size (0 when there is none): its stored frontier
    /// must reproduce that checkpoint's signed root, else nothing is extended (a tree that does not match what was signed is
    /// not extended, let alone signed). It takes the events after that size as the checkpointer's verification reads them
    /// (<see cref="Append"/>), so they are read once, and <see cref="FinishAsync"/> reads any it was not given and stores the new subtrees.
    /// </summary>
    public sealed class Extension
    {
        private readonly MerkleTree.Frontier _frontier;
        private readonly List<short> _levels = [];
        private readonly List<long> _indexes = [];
        private readonly List<byte[]> _hashes = [];
        private string? _gap;

        private Extension(MerkleTree.Frontier frontier) => _frontier = frontier;

        /// <summary>The number of leaves the tree holds so far.</summary>
        public long Size => _frontier.Size;

        public static async Task<(Extension? Extension, string? Problem)> OpenAsync(
            NpgsqlConnection connection, NpgsqlTransaction transaction, SignedCheckpoint? lastNote, CancellationToken ct)
        {
            var fromSize = lastNote?.Seq ?? 0;
            var parts = MerkleTree.Frontier.Decompose(fromSize);
            var stored = await ReadSubtreesAsync(connection, transaction, parts, ct);
            if (parts.Any(p => !stored.ContainsKey(p)))
                return (null, $"the stored Merkle tree lacks subtrees of the checkpoint at seq {fromSize}");
            var frontier = new MerkleTree.Frontier(fromSize, parts.Select(p => stored[p]).ToList());
            if (lastNote is not null && !frontier.Root().AsSpan().SequenceEqual(lastNote.RootHash))
                return (null, $"the stored Merkle tree does not reproduce the signed root of the checkpoint at seq {fromSize}");
            return (new Extension(frontier), null);
        }

        /// <summary>Adds events in seq order, each the tree's next leaf; a missing one stops the extension.</summary>
        public void Append(IEnumerable<AuditRow> rows)
        {
            foreach (var row in rows)
                if (!AppendLeaf(row.Seq, row.Canonical)) return;
        }

        private bool AppendLeaf(long seq, byte[] canonical)
        {
            if (_gap is not null) return false;
            // The writer never leaves gaps: a missing seq is a removed row, and the tree would be wrong.
            if (seq != Size + 1)
            {
                _gap = $"missing row at seq {Size + 1}";
                return false;
            }
            _frontier.Append(MerkleTree.LeafHash(canonical), (level, index, hash) =>
            {
                if (level < StoredFromLevel) return;
                _levels.Add((short)level);
                _indexes.Add(index);
                _hashes.Add(hash);
            });
            return true;
        }

        /// <summary>Reads the events up to <paramref name="toSize"/> it was not given, stores the new subtrees and returns the root.</summary>
        public async Task<(byte[]? Root, string? Problem)> FinishAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long toSize, CancellationToken ct)
        {
            if (_gap is not null) return (null, _gap);
            // A window of seqs per query, as the chain store reads them (see AuditChainStore.Chunk).
            await using var read = new NpgsqlCommand("select seq, canonical from audit_events where seq > $1 and seq <= $2 order by seq", connection, transaction);
            var after = new NpgsqlParameter<long>();
            var through = new NpgsqlParameter<long>();
            read.Parameters.Add(after);
            read.Parameters.Add(through);
            while (Size < toSize)
            {
                (after.TypedValue, through.TypedValue) = (Size, Math.Min(toSize, Size + ReadChunk));
                var before = Size;
                await using (var reader = await read.ExecuteReaderAsync(ct))
                    while (await reader.ReadAsync(ct))
                        AppendLeaf(reader.GetInt64(0), reader.GetFieldValue<byte[]>(1));
                if (_gap is not null) return (null, _gap);
                if (Size == before) return (null, $"missing row at seq {Size + 1}");
                if (_levels.Count >= InsertChunk) await InsertAsync(connection, transaction, ct);
            }
            await InsertAsync(connection, transaction, ct);
            return (_frontier.Root(), null);
        }

        private async Task InsertAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
        {
            for (var from = 0; from < _levels.Count; from += InsertChunk)
            {
                var count = Math.Min(InsertChunk, _levels.Count - from);
                // A node already there (stored by a checkpoint whose file line outlived its transaction) is the same hash.
                await using var insert = new NpgsqlCommand("""
                    insert into audit_merkle_nodes (level, idx, hash) select * from unnest($1::smallint[], $2::bigint[], $3::bytea[])
                    on conflict do nothing
                    """, connection, transaction);
                insert.Parameters.Add(new NpgsqlParameter<short[]> { TypedValue = [.. _levels.GetRange(from, count)], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Smallint });
                insert.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. _indexes.GetRange(from, count)], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
                insert.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = [.. _hashes.GetRange(from, count)], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
                await insert.ExecuteNonQueryAsync(ct);
            }
            _levels.Clear();
            _indexes.Clear();
            _hashes.Clear();
        }
    }

    /// <summary>The wanted subtree hashes that exist: stored ones from the table, smaller ones computed from their events. A subtree left out is missing.</summary>
    public static async Task<Dictionary<(int Level, long Index), byte[]>> ReadSubtreesAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyCollection<(int Level, long Index)> wanted, CancellationToken ct)
    {
        var found = new Dictionary<(int, long), byte[]>();
        var stored = wanted.Where(w => w.Level >= StoredFromLevel).ToList();
        if (stored.Count > 0)
        {
            await using var command = new NpgsqlCommand("""
                select n.level, n.idx, n.hash from audit_merkle_nodes n
                join unnest($1::smallint[], $2::bigint[]) as w (level, idx) on n.level = w.level and n.idx = w.idx
                """, connection, transaction);
            command.Parameters.Add(new NpgsqlParameter<short[]> { TypedValue = stored.Select(w => (short)w.Level).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Smallint });
            command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = stored.Select(w => w.Index).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) found[(reader.GetInt16(0), reader.GetInt64(1))] = reader.GetFieldValue<byte[]>(2);
        }

        var computed = wanted.Where(w => w.Level < StoredFromLevel).ToList();
        if (computed.Count > 0)
        {
            var leaves = await ReadBlockLeavesAsync(connection, transaction, computed.Select(w => (w.Index << w.Level) / StoredBlock).Distinct().ToArray(), ct);
            foreach (var (level, index) in computed)
                if (CompleteSubtree(leaves, index << level, 1L << level) is { } hash) found[(level, index)] = hash;
        }
        return found;
    }

    /// <summary>The leaf hashes of the events in the given blocks of <see cref="StoredBlock"/> leaves, by leaf index.</summary>
    private static async Task<Dictionary<long, byte[]>> ReadBlockLeavesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long[] blocks, CancellationToken ct)
    {
        // The seqs themselves: a join on ranges computed from the blocks was planned as a scan of the whole chain.
        var seqs = blocks.SelectMany(block => Enumerable.Range(1, StoredBlock).Select(i => (block * StoredBlock) + i)).ToArray();
        await using var command = new NpgsqlCommand("select seq, canonical from audit_events where seq = any($1)", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = seqs, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        var leaves = new Dictionary<long, byte[]>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) leaves[reader.GetInt64(0) - 1] = MerkleTree.LeafHash(reader.GetFieldValue<byte[]>(1));
        return leaves;
    }

    /// <summary>The hash of the complete subtree over leaves [start, start + count), or null when one of its events is missing.</summary>
    private static byte[]? CompleteSubtree(Dictionary<long, byte[]> leaves, long start, long count)
    {
        var level = new List<byte[]>((int)count);
        for (var i = start; i < start + count; i++)
        {
            if (!leaves.TryGetValue(i, out var leaf)) return null;
            level.Add(leaf);
        }
        while (level.Count > 1)
            level = [.. Enumerable.Range(0, level.Count / 2).Select(i => MerkleTree.NodeHash(level[2 * i], level[(2 * i) + 1]))];
        return level[0];
    }

    /// <summary>Builds a proof with <paramref name="build"/>: one query for the stored subtrees it needs, one for the events of the smaller ones. Null when a subtree is missing.</summary>
    public static async Task<List<byte[]>?> ProveAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, Func<MerkleTree.SubtreeHash, List<byte[]>> build, CancellationToken ct)
    {
        var needed = MerkleTree.SubtreesNeeded(subtree => build(subtree));
        var stored = await ReadSubtreesAsync(connection, transaction, needed, ct);
        if (needed.Any(n => !stored.ContainsKey(n))) return null;
        return build((level, index) => stored[(level, index)]);
    }
}
