using System.Text;
using Portal.Domain.Audit;

namespace Portal.Tests.Domain.Audit;

public sealed class AuditVerifierTests : IDisposable
{
    private static readonly List<AuditRecord> Records = AuditFixtures.Chain(1000);

    private readonly CheckpointSigner signer = CheckpointSigner.Generate();
    private readonly CheckpointVerifier checkpointVerifier;

    public AuditVerifierTests()
    {
        checkpointVerifier = CheckpointVerifier.FromPublicKeyPem(signer.ExportPublicKeyPem());
    }

    public void Dispose()
    {
        signer.Dispose();
        checkpointVerifier.Dispose();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_chain_of_1000_sealed_events_verifies(bool compareColumns)
    {
        var result = AuditVerifier.Verify(AuditFixtures.Rows(Records), new AuditVerifierOptions { CompareColumns = compareColumns });

        AssertOk(result, verified: 1000);
        Assert.Equal(1000, result.HeadSeq);
        Assert.Equal(Records[^1].Hash, result.HeadHash);
    }

    [Fact]
    public void Payload_as_jsonb_returns_it_still_verifies()
    {
        var rows = AuditFixtures.Rows(Records).Select(r => r with { Payload = AuditFixtures.AsJsonb(r.Payload) }).ToList();

        Assert.NotEqual(AuditFixtures.Rows(Records)[0].Payload, rows[0].Payload);
        AssertOk(AuditVerifier.Verify(rows), verified: 1000);
    }

    [Fact]
    public void An_edited_payload_column_is_named_by_its_seq()
    {
        var rows = AuditFixtures.Rows(Records);
        rows[416] = rows[416] with { Payload = rows[416].Payload.Replace("\"limit\":1417", "\"limit\":99999", StringComparison.Ordinal) };

        AssertProblem(AuditVerifier.Verify(rows), 417, AuditProblem.ColumnsDiffer, verified: 416);
    }

    [Fact]
    public void Without_column_comparison_an_edited_payload_column_goes_unnoticed()
    {
        var rows = AuditFixtures.Rows(Records);
        rows[416] = rows[416] with { Payload = "{}" };

        AssertOk(AuditVerifier.Verify(rows, new AuditVerifierOptions { CompareColumns = false }), verified: 1000);
    }

    [Theory]
    [InlineData("actor")]
    [InlineData("type")]
    [InlineData("subject")]
    [InlineData("time")]
    [InlineData("prev")]
    public void Any_edited_column_is_named_by_its_seq(string column)
    {
        var rows = AuditFixtures.Rows(Records);
        var row = rows[99];
        rows[99] = column switch
        {
            "actor" => row with { Actor = "user:mallory" },
            "type" => row with { Type = "limit.removed" },
            "subject" => row with { Subject = "account:0" },
            "time" => row with { Time = row.Time.AddTicks(10) },
            _ => row with { PrevHash = Records[97].Hash },
        };

        AssertProblem(AuditVerifier.Verify(rows), 100, AuditProblem.ColumnsDiffer, verified: 99);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_edited_prev_column_is_caught_even_without_column_comparison(bool compareColumns)
    {
        var rows = AuditFixtures.Rows(Records);
        rows[99] = rows[99] with { PrevHash = Records[97].Hash };

        AssertProblem(AuditVerifier.Verify(rows, new AuditVerifierOptions { CompareColumns = compareColumns }), 100, AuditProblem.ColumnsDiffer, verified: 99);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Fields_that_look_like_the_envelope_do_not_confuse_the_verifier(bool compareColumns)
    {
        // Strings ending in backslashes or holding quotes, and a payload spelling out envelope members, exercise
        // the search for the envelope's fields from the end of the canonical bytes.
        string[] awkward = ["\\", "x\"", "\\\"", "\",\"type\":\"", "", "\",\"prev\":\"00\",\"seq\":9,\"subject\":\""];
        var prev = AuditChain.GenesisHash.ToArray();
        var rows = new List<AuditRow>();
        for (var i = 0; i < awkward.Length; i++)
        {
            var draft = AuditEventDraft.Create(
                AuditFixtures.Start, awkward[i], awkward[(i + 1) % awkward.Length], awkward[(i + 2) % awkward.Length],
                new Dictionary<string, string> { ["prev"] = awkward[i], ["v"] = "1", [awkward[i]] = "seq" });
            var record = AuditChain.Seal(draft, i + 1, prev);
            rows.Add(AuditRow.FromRecord(record));
            prev = record.Hash;
        }

        var options = new AuditVerifierOptions { CompareColumns = compareColumns };
        AssertOk(AuditVerifier.Verify(rows, options), verified: awkward.Length);

        rows[3] = rows[3] with { PrevHash = rows[1].Hash };
        AssertProblem(AuditVerifier.Verify(rows, options), 4, AuditProblem.ColumnsDiffer, verified: 3);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Edited_canonical_bytes_are_a_hash_mismatch_at_that_seq(bool compareColumns)
    {
        var rows = AuditFixtures.Rows(Records);
        rows[640] = rows[640] with { Canonical = Replace(rows[640].Canonical, "\"limit\":1641", "\"limit\":1642") };

        AssertProblem(AuditVerifier.Verify(rows, new AuditVerifierOptions { CompareColumns = compareColumns }), 641, AuditProblem.HashMismatch, verified: 640);
    }

    [Fact]
    public void A_row_rewritten_with_a_fresh_hash_breaks_the_link_of_the_next_row()
    {
        var rewritten = AuditChain.Seal(AuditFixtures.Draft(641, note: "forged"), 641, Records[639].Hash);
        var rows = AuditFixtures.Rows(Records);
        rows[640] = AuditRow.FromRecord(rewritten);

        AssertProblem(AuditVerifier.Verify(rows), 642, AuditProblem.BrokenLink, verified: 641);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_deleted_row_breaks_the_link_of_the_row_after_it(bool compareColumns)
    {
        var rows = AuditFixtures.Rows(Records);
        rows.RemoveAt(499);

        var result = AuditVerifier.Verify(rows, new AuditVerifierOptions { CompareColumns = compareColumns });

        AssertProblem(result, 501, AuditProblem.BrokenLink, verified: 499);
        Assert.Contains("hash of seq 499", result.Problem, StringComparison.Ordinal);
        Assert.Equal(499, result.HeadSeq);
        Assert.Equal(Records[498].Hash, result.HeadHash);
    }

    [Fact]
    public void Reordered_rows_are_named_by_the_first_row_out_of_place()
    {
        var rows = AuditFixtures.Rows(Records);
        (rows[299], rows[300]) = (rows[300], rows[299]);

        AssertProblem(AuditVerifier.Verify(rows), 301, AuditProblem.BrokenLink, verified: 299);
    }

    [Fact]
    public void Rows_whose_contents_were_swapped_under_their_seqs_are_named_by_the_first()
    {
        var rows = AuditFixtures.Rows(Records);
        (rows[299], rows[300]) = (rows[300] with { Seq = 300 }, rows[299] with { Seq = 301 });

        AssertProblem(AuditVerifier.Verify(rows), 300, AuditProblem.ColumnsDiffer, verified: 299);
    }

    [Fact]
    public void A_repeated_seq_is_refused()
    {
        var rows = AuditFixtures.Rows(Records.Take(10));
        rows.Insert(5, rows[4]);

        AssertProblem(AuditVerifier.Verify(rows), 5, AuditProblem.SeqNotIncreasing, verified: 5);
    }

    [Fact]
    public void Gaps_in_seq_are_allowed()
    {
        var rows = AuditFixtures.Rows(AuditFixtures.Chain(50, seqStep: 3));

        var result = AuditVerifier.Verify(rows);

        AssertOk(result, verified: 50);
        Assert.Equal(150, result.HeadSeq);
    }

    [Fact]
    public void Verification_resumes_from_the_last_verified_head()
    {
        var rows = AuditFixtures.Rows(Records);
        var first = AuditVerifier.Verify(rows.Take(400));

        var rest = AuditVerifier.Verify(rows.Skip(400), new AuditVerifierOptions { StartSeq = first.HeadSeq, StartHash = first.HeadHash });

        AssertOk(first, verified: 400);
        AssertOk(rest, verified: 600);
        Assert.Equal(Records[^1].Hash, rest.HeadHash);
    }

    [Fact]
    public void One_verifier_takes_rows_in_batches()
    {
        var rows = AuditFixtures.Rows(Records);
        var verifier = new AuditVerifier();

        foreach (var batch in rows.Chunk(128))
        {
            Assert.True(verifier.Append(batch));
        }

        AssertOk(verifier.Complete(), verified: 1000);
    }

    [Fact]
    public void A_wrong_start_hash_breaks_the_first_link()
    {
        var rows = AuditFixtures.Rows(Records.Skip(400));

        var result = AuditVerifier.Verify(rows, new AuditVerifierOptions { StartSeq = 400, StartHash = Records[398].Hash });

        AssertProblem(result, 401, AuditProblem.BrokenLink, verified: 0);
    }

    [Fact]
    public void After_a_problem_nothing_more_is_verified()
    {
        var rows = AuditFixtures.Rows(Records.Take(10));
        rows[2] = rows[2] with { Hash = new byte[32] };
        var verifier = new AuditVerifier();

        Assert.False(verifier.Append(rows));
        Assert.False(verifier.Append(rows[3]));
        AssertProblem(verifier.Complete(), 3, AuditProblem.HashMismatch, verified: 2);
    }

    [Fact]
    public void Matching_checkpoints_pass()
    {
        var result = AuditVerifier.Verify(AuditFixtures.Rows(Records), WithCheckpoints(250, 500, 1000));

        AssertOk(result, verified: 1000);
    }

    [Theory]
    [InlineData(600, 1000)]
    [InlineData(100, 250)]
    [InlineData(0, 250)]
    public void A_consistently_rewritten_chain_fails_at_the_first_checkpoint_after_the_rewrite(int rewriteFromIndex, long expectedSeq)
    {
        var options = WithCheckpoints(250, 500, 1000);
        var forged = AuditFixtures.Rows(AuditFixtures.RewriteFrom(Records, rewriteFromIndex, note: "forged"));

        Assert.True(AuditVerifier.Verify(forged).Ok);
        var result = AuditVerifier.Verify(forged, options);

        AssertProblem(result, expectedSeq, AuditProblem.CheckpointMismatch, verified: expectedSeq - 1);
        Assert.Contains($"seq {expectedSeq}", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tampered_checkpoint_signature_is_reported_before_any_row()
    {
        var genuine = signer.Sign(500, Records[499].Hash, AuditFixtures.Start);
        var moved = new SignedCheckpoint(500, Records[0].Hash, genuine.Time, genuine.Signature);
        var options = new AuditVerifierOptions { Checkpoints = [moved], CheckpointVerifier = checkpointVerifier };

        AssertProblem(AuditVerifier.Verify(AuditFixtures.Rows(Records), options), 500, AuditProblem.CheckpointSignatureInvalid, verified: 0);
    }

    [Fact]
    public void A_deleted_checkpointed_row_is_a_missing_row()
    {
        var rows = AuditFixtures.Rows(Records);
        rows.RemoveAt(499);

        AssertProblem(AuditVerifier.Verify(rows, WithCheckpoints(500)), 500, AuditProblem.MissingRow, verified: 499);
    }

    [Fact]
    public void A_truncated_tail_is_a_missing_row_when_the_run_completes()
    {
        var rows = AuditFixtures.Rows(Records.Take(900));

        AssertProblem(AuditVerifier.Verify(rows, WithCheckpoints(500, 1000)), 901, AuditProblem.MissingRow, verified: 900);
    }

    [Fact]
    public void A_checkpoint_on_the_start_row_vouches_for_the_start_hash()
    {
        var checkpoints = WithCheckpoints(400);
        var rows = AuditFixtures.Rows(Records.Skip(400));

        AssertOk(AuditVerifier.Verify(rows, new AuditVerifierOptions
        {
            StartSeq = 400, StartHash = Records[399].Hash, Checkpoints = checkpoints.Checkpoints, CheckpointVerifier = checkpointVerifier,
        }), verified: 600);
        AssertProblem(AuditVerifier.Verify(rows, new AuditVerifierOptions
        {
            StartSeq = 400, StartHash = Records[398].Hash, Checkpoints = checkpoints.Checkpoints, CheckpointVerifier = checkpointVerifier,
        }), 400, AuditProblem.CheckpointMismatch, verified: 0);
    }

    [Fact]
    public void Invalid_options_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new AuditVerifier(new AuditVerifierOptions { StartSeq = 5 }));
        Assert.Throws<ArgumentException>(() => new AuditVerifier(new AuditVerifierOptions { StartSeq = 5, StartHash = new byte[31] }));
        Assert.Throws<ArgumentException>(() => new AuditVerifier(new AuditVerifierOptions { Checkpoints = WithCheckpoints(5).Checkpoints }));
    }

    private AuditVerifierOptions WithCheckpoints(params long[] seqs) => new()
    {
        Checkpoints = seqs.Select(seq => signer.Sign(seq, Records[(int)seq - 1].Hash, AuditFixtures.Start.AddDays(1))).ToList(),
        CheckpointVerifier = checkpointVerifier,
    };

    private static byte[] Replace(byte[] utf8, string oldText, string newText)
    {
        var text = Encoding.UTF8.GetString(utf8);
        Assert.Contains(oldText, text, StringComparison.Ordinal);
        return Encoding.UTF8.GetBytes(text.Replace(oldText, newText, StringComparison.Ordinal));
    }

    private static void AssertOk(VerificationResult result, long verified)
    {
        Assert.True(result.Ok, result.Problem);
        Assert.Null(result.FirstBadSeq);
        Assert.Null(result.Problem);
        Assert.Equal(verified, result.Verified);
    }

    private static void AssertProblem(VerificationResult result, long seq, string problem, long verified)
    {
        Assert.False(result.Ok);
        Assert.Equal(seq, result.FirstBadSeq);
        Assert.StartsWith($"{problem} at seq {seq}", result.Problem, StringComparison.Ordinal);
        Assert.Equal(verified, result.Verified);
    }
}
