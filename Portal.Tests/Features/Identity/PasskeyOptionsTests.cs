using Microsoft.AspNetCore.Identity;
using Portal.Features.Identity;

namespace Portal.Tests.Features.Identity;

/// <summary>Passkeys:* is checked at start-up and becomes Identity's passkey options.</summary>
public sealed class PasskeyOptionsTests
{
    [Theory]
    [InlineData("portal.example.com", null, true)]
    [InlineData(null, "https://portal.example.com", true)]
    [InlineData(null, "http://localhost:5080", true)]
    [InlineData("https://portal.example.com", null, false)]
    [InlineData("portal.example.com:443", null, false)]
    [InlineData("", null, false)]
    [InlineData(null, "portal.example.com", false)]
    [InlineData(null, "https://portal.example.com/", false)]
    [InlineData(null, "https://portal.example.com/login", false)]
    [InlineData(null, "ftp://portal.example.com", false)]
    public void Only_a_bare_host_name_and_origins_are_accepted(string? domain, string? origin, bool valid)
    {
        var options = new PasskeyOptions { ServerDomain = domain, AllowedOrigins = origin is null ? [] : [origin] };
        var result = new PasskeyOptionsValidator().Validate(null, options);
        Assert.Equal(valid, result.Succeeded);
        if (!valid) Assert.Contains(PasskeyOptions.Section + ":", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Identity_asks_for_discoverable_verified_passkeys_and_checks_the_configured_origins()
    {
        var identity = new IdentityPasskeyOptions();
        PasskeyOptionsValidator.Apply(identity, new PasskeyOptions { ServerDomain = "portal.example.com", AllowedOrigins = ["https://portal.example.com"] });
        Assert.Equal("portal.example.com", identity.ServerDomain);
        Assert.Equal("required", identity.ResidentKeyRequirement);
        Assert.Equal("required", identity.UserVerificationRequirement);
        Assert.True(await identity.ValidateOrigin!(new PasskeyOriginValidationContext { HttpContext = new Microsoft.AspNetCore.Http.DefaultHttpContext(), Origin = "https://portal.example.com", CrossOrigin = false }));
        Assert.False(await identity.ValidateOrigin!(new PasskeyOriginValidationContext { HttpContext = new Microsoft.AspNetCore.Http.DefaultHttpContext(), Origin = "https://evil.example", CrossOrigin = false }));
        Assert.False(await identity.ValidateOrigin!(new PasskeyOriginValidationContext { HttpContext = new Microsoft.AspNetCore.Http.DefaultHttpContext(), Origin = "https://portal.example.com", CrossOrigin = true }));

        var byDefault = new IdentityPasskeyOptions();
        PasskeyOptionsValidator.Apply(byDefault, new PasskeyOptions());
        Assert.Null(byDefault.ServerDomain);
        Assert.Null(byDefault.ValidateOrigin); // Identity's own check: the request's origin exactly
    }
}
