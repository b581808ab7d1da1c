using Portal.Features.Identity;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Identity;

/// <summary>Whoever reads the data-protection keys table (a backup, the database owner) finds no usable key in it.</summary>
public sealed class KeyRingProtectionTests
{
    [Fact]
    public async Task The_keys_are_stored_encrypted_to_the_certificate_and_a_peer_with_it_reads_the_session()
    {
        await using var portal = await PortalFactory.StartAsync();
        var client = await portal.ClientSignedInAsAsync(Roles.OnCall);

        var keys = await OrderRequests.ScalarAsync(portal.AppConnectionString, "select count(*) from data_protection_keys");
        var encrypted = await OrderRequests.ScalarAsync(portal.AppConnectionString,
            "select count(*) from data_protection_keys where xml like '%<encryptedSecret%' and xml not like '%<masterKey%'");
        Assert.True(keys > 0);
        Assert.Equal(keys, encrypted);

        // Another instance, holding the same certificate, decrypts the key ring and accepts the session.
        var cookie = (await client.GetAsync("/api/account/me")).RequestMessage!.Headers.GetValues("Cookie").Single();
        await using var peer = await portal.StartPeerAsync();
        var peerClient = peer.CreateClient(new() { AllowAutoRedirect = false, HandleCookies = false });
        peerClient.DefaultRequestHeaders.Add("Cookie", cookie);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await peerClient.GetAsync("/api/account/me")).StatusCode);
    }
}
