using Portal.Features.Witness;

namespace Portal.Tests.Features.Witness;

public sealed class WitnessOptionsTests
{
    private static string Problems(WitnessOptions options) =>
        string.Join("\n", new WitnessOptionsValidator().Validate(null, options).Failures ?? []);

    [Fact]
    public void An_unconfigured_witness_names_every_missing_key()
    {
        var problems = Problems(new WitnessOptions());

        Assert.Contains("Witness:Name must be a non-empty name", problems);
        Assert.Contains("Witness:SigningKeyPath must name the witness's PKCS#8 key file", problems);
        Assert.Contains("Witness:StateFile is missing", problems);
        Assert.Contains("Witness:Logs must list at least one log", problems);
    }

    [Fact]
    public void A_log_without_origin_or_with_a_bad_key_is_named_by_its_index()
    {
        var problems = Problems(new WitnessOptions { Logs = [new WitnessOptions.WatchedLog { PublicKeyPem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----" }] });

        Assert.Contains("Witness:Logs:0:Origin is missing", problems);
        Assert.Contains("Witness:Logs:0:PublicKeyPem (or PublicKeyPath) is not an ECDSA P-256 public key", problems);
    }

    [Fact]
    public async Task A_witness_started_with_a_bad_configuration_refuses_to_start()
    {
        await using var app = WitnessServer.Build(["--urls", "http://127.0.0.1:0", "--Witness:Name", "w"]);

        var refused = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => app.StartAsync());
        Assert.Contains(refused.Failures, f => f.Contains("Witness:StateFile is missing"));
    }
}
