using Portal.Features.Audit;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Audit;

public sealed class AuditOptionsTests
{
    private static string Problems(AuditOptions options) =>
        string.Join("\n", new AuditOptionsValidator().Validate(null, options).Failures ?? []);

    [Fact]
    public async Task Start_up_is_refused_without_a_signing_key()
    {
        await Assert.ThrowsAnyAsync<Exception>(async () =>
            await (await PortalFactory.StartAsync(new Dictionary<string, string?> { ["Audit:SigningKeyPem"] = null })).DisposeAsync());
    }

    [Fact]
    public void A_missing_key_is_named_with_how_to_make_one()
    {
        var problems = Problems(new AuditOptions { CheckpointFile = "x.jsonl" });

        Assert.Contains("Audit:SigningKeyPath (or Audit:SigningKeyPem) is missing", problems);
        Assert.Contains("generate-audit-key", problems);
    }

    [Fact]
    public void A_bad_key_file_checkpoint_file_cron_and_count_are_each_named()
    {
        var problems = Problems(new AuditOptions
        {
            SigningKeyPath = "/nonexistent/audit.pem",
            CheckpointFile = "",
            VerifyCron = "at two",
            Checkpoint = new AuditOptions.CheckpointSettings { EveryEvents = 0, EveryMinutes = 0 },
        });

        Assert.Contains("Audit:SigningKeyPath: '/nonexistent/audit.pem' does not exist", problems);
        Assert.Contains("Audit:CheckpointFile is missing", problems);
        Assert.Contains("Audit:VerifyCron 'at two'", problems);
        Assert.Contains("Audit:Checkpoint:EveryEvents", problems);
        Assert.Contains("Audit:Checkpoint:EveryMinutes", problems);
    }

    [Fact]
    public void A_pem_that_is_not_a_p256_private_key_is_named()
    {
        Assert.Contains("Audit:SigningKeyPem is not an ECDSA P-256 PKCS#8 private key",
            Problems(new AuditOptions { SigningKeyPem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", CheckpointFile = "x" }));
        Assert.Empty(Problems(new AuditOptions { SigningKeyPem = PortalFactory.AuditSigningKeyPem, CheckpointFile = "x" }));
    }

    [Fact]
    public void A_witness_url_without_a_name_or_a_valid_key_is_refused_naming_each_key()
    {
        var problems = Problems(new AuditOptions
        {
            SigningKeyPem = PortalFactory.AuditSigningKeyPem, CheckpointFile = "x",
            Witness = new AuditOptions.WitnessSettings { Url = "witness:5091", PublicKeyPem = "not a key" },
        });

        Assert.Contains("Audit:Witness:Url must be an absolute http(s) URL", problems);
        Assert.Contains("Audit:Witness:Name is missing", problems);
        Assert.Contains("Audit:Witness:PublicKeyPem (or PublicKeyPath) is not an ECDSA P-256 public key", problems);
    }

    [Fact]
    public async Task A_generated_key_file_is_private_never_overwritten_and_accepted()
    {
        var dir = Directory.CreateTempSubdirectory("portal-key-").FullName;
        try
        {
            var path = Path.Combine(dir, "keys", "audit.pem");
            var output = new StringWriter();
            Assert.Equal(0, AuditCli.GenerateKeyFile(path, output, output));
            Assert.Contains("-----BEGIN PUBLIC KEY-----", output.ToString());
            if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            var first = await File.ReadAllTextAsync(path);
            Assert.Equal(1, AuditCli.GenerateKeyFile(path, output, output));
            Assert.Equal(first, await File.ReadAllTextAsync(path));

            await using var portal = await PortalFactory.StartAsync(new Dictionary<string, string?> { ["Audit:SigningKeyPem"] = null, ["Audit:SigningKeyPath"] = path });
            Assert.Contains(portal.Get<AuditKeys>().KeyId, output.ToString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
