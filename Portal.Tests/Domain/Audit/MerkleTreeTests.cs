using System.Security.Cryptography;
using FsCheck;
using FsCheck.Xunit;
using Portal.Domain.Audit;

namespace Portal.Tests.Domain.Audit;

/// <summary>
/// <see cref="MerkleTree"/> against RFC 9162's definitions written out naively here (MTH, PATH, PROOF as recursive
/// functions over the leaf list), the roots published with RFC 6962's reference test data, and every tampering a
/// verifier must catch.
/// </summary>
public sealed class MerkleTreeTests
{
    // The RFC 6962 reference leaves and the published roots of their first 1..8 (the CT test data).
    private static readonly byte[][] ReferenceLeaves =
        new[] { "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f" }.Select(Convert.FromHexString).ToArray();

    private static readonly string[] ReferenceRoots =
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    // ---- RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1, as written there ----

    private static byte[] Mth(IReadOnlyList<byte[]> d)
    {
        if (d.Count == 0) return SHA256.HashData([]);
        if (d.Count == 1) return SHA256.HashData([0x00, .. d[0]]);
        var k = K(d.Count);
        return SHA256.HashData([0x01, .. Mth(d.Take(k).ToList()), .. Mth(d.Skip(k).ToList())]);
    }

    /// <summary>The largest power of two smaller than n.</summary>
    private static int K(int n)
    {
        var k = 1;
        while (k * 2 < n) k *= 2;
        return k;
    }

    private static List<byte[]> NaivePath(int m, IReadOnlyList<byte[]> d)
    {
        if (d.Count == 1) return [];
        var k = K(d.Count);
        return m < k
            ? [.. NaivePath(m, d.Take(k).ToList()), Mth(d.Skip(k).ToList())]
            : [.. NaivePath(m - k, d.Skip(k).ToList()), Mth(d.Take(k).ToList())];
    }

    private static List<byte[]> NaiveProof(int m, IReadOnlyList<byte[]> d) => SubProof(m, d, true);

    private static List<byte[]> SubProof(int m, IReadOnlyList<byte[]> d, bool b)
    {
        var n = d.Count;
        if (m == n) return b ? [] : [Mth(d)];
        var k = K(n);
        return m <= k
            ? [.. SubProof(m, d.Take(k).ToList(), b), Mth(d.Skip(k).ToList())]
            : [.. SubProof(m - k, d.Skip(k).ToList(), false), Mth(d.Take(k).ToList())];
    }

    // ---- the production code's inputs ----

    private static List<byte[]> Leaves(int n) => Enumerable.Range(0, n).Select(i => System.Text.Encoding.UTF8.GetBytes($"event {i}")).ToList();

    /// <summary>Complete subtree hashes as the checkpointer stores them: recorded by <see cref="MerkleTree.Frontier"/> while appending.</summary>
    private static (Dictionary<(int, long), byte[]> Stored, byte[] Root) Build(IReadOnlyList<byte[]> leaves)
    {
        var stored = new Dictionary<(int, long), byte[]>();
        var frontier = new MerkleTree.Frontier(0, []);
        foreach (var leaf in leaves) frontier.Append(MerkleTree.LeafHash(leaf), (level, index, hash) => stored.Add((level, index), hash));
        return (stored, frontier.Root());
    }

    private static string Hex(IEnumerable<byte[]> hashes) => string.Join(",", hashes.Select(Convert.ToHexStringLower));

    [Fact]
    public void Roots_match_the_published_RFC_6962_reference_roots_and_the_empty_tree_is_the_hash_of_nothing()
    {
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Convert.ToHexStringLower(MerkleTree.EmptyRoot()));
        Assert.Equal(MerkleTree.EmptyRoot(), new MerkleTree.Frontier(0, []).Root());
        for (var n = 1; n <= ReferenceLeaves.Length; n++)
        {
            Assert.Equal(ReferenceRoots[n - 1], Convert.ToHexStringLower(Build(ReferenceLeaves.Take(n).ToList()).Root));
            Assert.Equal(ReferenceRoots[n - 1], Convert.ToHexStringLower(Mth(ReferenceLeaves.Take(n).ToList())));
        }
    }

    [Fact]
    public void Every_inclusion_and_consistency_proof_up_to_64_leaves_is_the_RFCs_and_verifies()
    {
        var all = Leaves(64);
        var (stored, _) = Build(all);
        for (var n = 1; n <= 64; n++)
        {
            var d = all.Take(n).ToList();
            var root = Mth(d);
            for (var m = 0; m < n; m++)
            {
                var proof = MerkleTree.InclusionProof(m, n, (level, index) => stored[(level, index)]);
                Assert.Equal(Hex(NaivePath(m, d)), Hex(proof));
                Assert.True(MerkleTree.VerifyInclusion(m, n, MerkleTree.LeafHash(d[m]), proof, root), $"leaf {m} of {n}");
            }

            for (var m = 1; m <= n; m++)
            {
                var proof = MerkleTree.ConsistencyProof(m, n, (level, index) => stored[(level, index)]);
                Assert.Equal(Hex(m == n ? [] : NaiveProof(m, d)), Hex(proof));
                Assert.True(MerkleTree.VerifyConsistency(m, n, Mth(d.Take(m).ToList()), root, proof), $"{m} to {n}");
            }
        }
    }

    [Property(MaxTest = 40)]
    public bool Random_larger_trees_prove_inclusion_and_consistency(PositiveInt sizeSeed, NonNegativeInt leafSeed, NonNegativeInt fromSeed)
    {
        var n = 65 + (sizeSeed.Get % 1500);
        var m = leafSeed.Get % n;
        var from = 1 + (fromSeed.Get % n);
        var d = Leaves(n);
        var (stored, root) = Build(d);
        MerkleTree.SubtreeHash subtree = (level, index) => stored[(level, index)];
        var inclusion = MerkleTree.InclusionProof(m, n, subtree);
        var consistency = MerkleTree.ConsistencyProof(from, n, subtree);
        return root.AsSpan().SequenceEqual(Mth(d))
            && Hex(inclusion) == Hex(NaivePath(m, d))
            && MerkleTree.VerifyInclusion(m, n, MerkleTree.LeafHash(d[m]), inclusion, root)
            && Hex(consistency) == Hex(from == n ? [] : NaiveProof(from, d))
            && MerkleTree.VerifyConsistency(from, n, Mth(d.Take(from).ToList()), root, consistency);
    }

    [Fact]
    public void A_tree_resumed_from_its_stored_frontier_grows_to_the_same_root()
    {
        var d = Leaves(100);
        var (stored, root) = Build(d);
        var resumed = new MerkleTree.Frontier(37, MerkleTree.Frontier.Decompose(37).Select(p => stored[p]).ToList());
        Assert.Equal(Mth(d.Take(37).ToList()), resumed.Root());
        foreach (var leaf in d.Skip(37)) resumed.Append(MerkleTree.LeafHash(leaf), (_, _, _) => { });
        Assert.Equal(root, resumed.Root());
    }

    [Fact]
    public void Any_change_to_a_proof_its_leaf_its_position_or_its_root_fails()
    {
        var d = Leaves(23);
        var (stored, root) = Build(d);
        MerkleTree.SubtreeHash subtree = (level, index) => stored[(level, index)];
        var proof = MerkleTree.InclusionProof(9, 23, subtree);
        var leaf = MerkleTree.LeafHash(d[9]);
        Assert.True(MerkleTree.VerifyInclusion(9, 23, leaf, proof, root));
        // (The tree size itself is bound by the signed checkpoint, not by the proof, so it is not varied here.)

        Assert.False(MerkleTree.VerifyInclusion(9, 23, MerkleTree.LeafHash(d[10]), proof, root));
        Assert.False(MerkleTree.VerifyInclusion(10, 23, leaf, proof, root));
        Assert.False(MerkleTree.VerifyInclusion(9, 23, leaf, proof.Take(proof.Count - 1).ToList(), root));
        Assert.False(MerkleTree.VerifyInclusion(9, 23, leaf, [.. proof, root], root));
        Assert.False(MerkleTree.VerifyInclusion(9, 23, leaf, proof, Mth(d.Take(22).ToList())));
        Assert.False(MerkleTree.VerifyInclusion(23, 23, leaf, proof, root));
        for (var i = 0; i < proof.Count; i++)
        {
            var bent = proof.Select(p => p.ToArray()).ToList();
            bent[i][0] ^= 1;
            Assert.False(MerkleTree.VerifyInclusion(9, 23, leaf, bent, root));
        }

        var consistency = MerkleTree.ConsistencyProof(7, 23, subtree);
        var old = Mth(d.Take(7).ToList());
        Assert.True(MerkleTree.VerifyConsistency(7, 23, old, root, consistency));
        Assert.False(MerkleTree.VerifyConsistency(7, 23, Mth(d.Take(6).ToList()), root, consistency));
        Assert.False(MerkleTree.VerifyConsistency(6, 23, old, root, consistency));
        Assert.False(MerkleTree.VerifyConsistency(7, 23, old, root, consistency.Skip(1).ToList()));
        Assert.False(MerkleTree.VerifyConsistency(7, 23, old, root, []));
        Assert.False(MerkleTree.VerifyConsistency(23, 7, root, old, consistency));
        for (var i = 0; i < consistency.Count; i++)
        {
            var bent = consistency.Select(p => p.ToArray()).ToList();
            bent[i][31] ^= 0x80;
            Assert.False(MerkleTree.VerifyConsistency(7, 23, old, root, bent));
        }

        // A history that differs in one old event is not consistent with the real one.
        var rewritten = d.ToList();
        rewritten[3] = [.. rewritten[3], 0x21];
        Assert.False(MerkleTree.VerifyConsistency(7, 23, Mth(rewritten.Take(7).ToList()), root, consistency));
    }
}
