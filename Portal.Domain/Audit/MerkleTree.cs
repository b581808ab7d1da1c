using System.Numerics;
using System.Security.Cryptography;

namespace Portal.Domain.Audit;

/// <summary>
/// The RFC 9162 (§2.1) Merkle tree over the chain: leaf <c>i</c> (0-based) is the canonical bytes of the record with
/// seq <c>i + 1</c>. Leaf hash = SHA-256(0x00 ‖ bytes), node hash = SHA-256(0x01 ‖ left ‖ right), the empty tree's
/// hash = SHA-256(""). Proofs are built from complete subtree hashes supplied by the caller (a stored table), so no
/// request reads the whole tree.
/// </summary>
public static class MerkleTree
{
    public const int HashSize = SHA256.HashSizeInBytes;

    /// <summary>The hash of the complete subtree of 2^level leaves starting at leaf index × 2^level.</summary>
    public delegate byte[] SubtreeHash(int level, long index);

    public static byte[] EmptyRoot() => SHA256.HashData(ReadOnlySpan<byte>.Empty);

    public static byte[] LeafHash(ReadOnlySpan<byte> data)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData([0x00]);
        hash.AppendData(data);
        return hash.GetHashAndReset();
    }

    public static byte[] NodeHash(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right)
    {
        Span<byte> buffer = stackalloc byte[1 + (2 * HashSize)];
        buffer[0] = 0x01;
        left.CopyTo(buffer[1..]);
        right.CopyTo(buffer[(1 + HashSize)..]);
        return SHA256.HashData(buffer);
    }

    /// <summary>MTH of the leaves [start, end), where the range is one of the RFC's subtrees: start is a multiple of the largest power of two below end − start, or the range is complete.</summary>
    public static byte[] RangeHash(long start, long end, SubtreeHash subtree)
    {
        ArgumentNullException.ThrowIfNull(subtree);
        if (start == end) return EmptyRoot();
        // Split into complete subtrees left to right (each as large as the alignment allows), then fold from the right.
        var parts = new List<byte[]>();
        for (var at = start; at < end;)
        {
            var level = at == 0 ? 62 : BitOperations.TrailingZeroCount(at);
            while ((1L << level) > end - at) level--;
            parts.Add(subtree(level, at >> level));
            at += 1L << level;
        }

        var hash = parts[^1];
        for (var i = parts.Count - 2; i >= 0; i--) hash = NodeHash(parts[i], hash);
        return hash;
    }

    /// <summary>RFC 9162 §2.1.3.1 PATH(index, D[size]): the audit path of leaf <paramref name="index"/>, leaf-side first.</summary>
    public static List<byte[]> InclusionProof(long index, long size, SubtreeHash subtree)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, size);
        var proof = new List<byte[]>();
        Path(index, 0, size, subtree, proof);
        return proof;
    }

    private static void Path(long m, long start, long end, SubtreeHash subtree, List<byte[]> proof)
    {
        var n = end - start;
        if (n == 1) return;
        var k = LargestPowerOfTwoBelow(n);
        if (m - start < k)
        {
            Path(m, start, start + k, subtree, proof);
            proof.Add(RangeHash(start + k, end, subtree));
        }
        else
        {
            Path(m, start + k, end, subtree, proof);
            proof.Add(RangeHash(start, start + k, subtree));
        }
    }

    /// <summary>RFC 9162 §2.1.4.1 PROOF(from, D[to]); empty when from is 0 or equals to.</summary>
    public static List<byte[]> ConsistencyProof(long from, long to, SubtreeHash subtree)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(from);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(from, to);
        var proof = new List<byte[]>();
        if (from > 0 && from < to) SubProof(from, 0, to, true, subtree, proof);
        return proof;
    }

    private static void SubProof(long m, long start, long end, bool isWholeOldTree, SubtreeHash subtree, List<byte[]> proof)
    {
        var n = end - start;
        if (m == n)
        {
            if (!isWholeOldTree) proof.Add(RangeHash(start, end, subtree));
            return;
        }

        var k = LargestPowerOfTwoBelow(n);
        if (m <= k)
        {
            SubProof(m, start, start + k, isWholeOldTree, subtree, proof);
            proof.Add(RangeHash(start + k, end, subtree));
        }
        else
        {
            SubProof(m - k, start + k, end, false, subtree, proof);
            proof.Add(RangeHash(start, start + k, subtree));
        }
    }

    /// <summary>RFC 9162 §2.1.3.2: whether <paramref name="proof"/> shows leaf <paramref name="leafHash"/> at <paramref name="index"/> in the tree of <paramref name="size"/> with <paramref name="root"/>.</summary>
    public static bool VerifyInclusion(long index, long size, ReadOnlySpan<byte> leafHash, IReadOnlyList<byte[]> proof, ReadOnlySpan<byte> root)
    {
        ArgumentNullException.ThrowIfNull(proof);
        if (index < 0 || index >= size || leafHash.Length != HashSize) return false;
        var fn = index;
        var sn = size - 1;
        var r = leafHash.ToArray();
        foreach (var p in proof)
        {
            if (sn == 0 || p is not { Length: HashSize }) return false;
            if ((fn & 1) == 1 || fn == sn)
            {
                r = NodeHash(p, r);
                while ((fn & 1) == 0 && fn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            else
            {
                r = NodeHash(r, p);
            }

            fn >>= 1;
            sn >>= 1;
        }

        return sn == 0 && r.AsSpan().SequenceEqual(root);
    }

    /// <summary>RFC 9162 §2.1.4.2: whether <paramref name="proof"/> shows the tree of <paramref name="fromSize"/> is a prefix of the tree of <paramref name="toSize"/>.</summary>
    public static bool VerifyConsistency(long fromSize, long toSize, ReadOnlySpan<byte> fromRoot, ReadOnlySpan<byte> toRoot, IReadOnlyList<byte[]> proof)
    {
        ArgumentNullException.ThrowIfNull(proof);
        if (fromSize < 0 || fromSize > toSize || fromRoot.Length != HashSize || toRoot.Length != HashSize) return false;
        if (fromSize == toSize) return proof.Count == 0 && fromRoot.SequenceEqual(toRoot);
        if (fromSize == 0) return proof.Count == 0;
        if (proof.Count == 0 || proof.Any(p => p is not { Length: HashSize })) return false;

        var path = BitOperations.IsPow2(fromSize) ? proof.Prepend(fromRoot.ToArray()).ToList() : proof.ToList();
        var fn = fromSize - 1;
        var sn = toSize - 1;
        while ((fn & 1) == 1)
        {
            fn >>= 1;
            sn >>= 1;
        }

        var fr = path[0];
        var sr = path[0];
        foreach (var c in path.Skip(1))
        {
            if (sn == 0) return false;
            if ((fn & 1) == 1 || fn == sn)
            {
                fr = NodeHash(c, fr);
                sr = NodeHash(c, sr);
                while ((fn & 1) == 0 && fn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            else
            {
                sr = NodeHash(sr, c);
            }

            fn >>= 1;
            sn >>= 1;
        }

        return sn == 0 && fr.AsSpan().SequenceEqual(fromRoot) && sr.AsSpan().SequenceEqual(toRoot);
    }

    /// <summary>The (level, index) of every complete subtree hash a proof will ask for, so a store can fetch them in one query.</summary>
    public static List<(int Level, long Index)> SubtreesNeeded(Action<SubtreeHash> buildProof)
    {
        ArgumentNullException.ThrowIfNull(buildProof);
        var needed = new List<(int, long)>();
        var placeholder = new byte[HashSize];
        buildProof((level, index) =>
        {
            needed.Add((level, index));
            return placeholder;
        });
        return needed.Distinct().ToList();
    }

    /// <summary>The largest power of two strictly below <paramref name="n"/> (n ≥ 2), the RFC's split point k.</summary>
    private static long LargestPowerOfTwoBelow(long n) => (long)BitOperations.RoundUpToPowerOf2((ulong)n) >> 1;

    /// <summary>
    /// The right edge of a tree being built leaf by leaf: one complete subtree per set bit of the size. Appending a
    /// leaf reports every subtree it completes, so they can be stored once and proofs need no recomputation.
    /// </summary>
    public sealed class Frontier
    {
        private readonly List<(int Level, byte[] Hash)> _stack = [];

        /// <summary>Resumes a tree of <paramref name="size"/> leaves from its complete subtrees, largest first (as <see cref="Decompose"/> lists them).</summary>
        public Frontier(long size, IReadOnlyList<byte[]> subtrees)
        {
            ArgumentNullException.ThrowIfNull(subtrees);
            var levels = Decompose(size);
            if (levels.Count != subtrees.Count) throw new ArgumentException($"A tree of {size} leaves has {levels.Count} frontier subtrees.", nameof(subtrees));
            for (var i = 0; i < levels.Count; i++) _stack.Add((levels[i].Level, subtrees[i]));
            Size = size;
        }

        public long Size { get; private set; }

        /// <summary>Adds leaf <see cref="Size"/> and calls <paramref name="completed"/> for the leaf and every subtree it completes.</summary>
        public void Append(byte[] leafHash, Action<int, long, byte[]> completed)
        {
            ArgumentNullException.ThrowIfNull(completed);
            var index = Size;
            var hash = leafHash;
            var level = 0;
            completed(0, index, hash);
            while (_stack.Count > 0 && _stack[^1].Level == level)
            {
                hash = NodeHash(_stack[^1].Hash, hash);
                _stack.RemoveAt(_stack.Count - 1);
                level++;
                completed(level, index >> level, hash);
            }

            _stack.Add((level, hash));
            Size++;
        }

        public byte[] Root()
        {
            if (_stack.Count == 0) return EmptyRoot();
            var hash = _stack[^1].Hash;
            for (var i = _stack.Count - 2; i >= 0; i--) hash = NodeHash(_stack[i].Hash, hash);
            return hash;
        }

        /// <summary>The complete subtrees (level, index) a tree of <paramref name="size"/> leaves splits into, largest first.</summary>
        public static List<(int Level, long Index)> Decompose(long size)
        {
            var parts = new List<(int, long)>();
            long at = 0;
            for (var level = 62; level >= 0; level--)
            {
                if ((size & (1L << level)) == 0) continue;
                parts.Add((level, at >> level));
                at += 1L << level;
            }

            return parts;
        }
    }
}
