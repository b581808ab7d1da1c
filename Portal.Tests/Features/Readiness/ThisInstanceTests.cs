using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Portal.Features.Readiness;

namespace Portal.Tests.Features.Readiness;

/// <summary>Where the drills call their own instance, from what Kestrel reports it listens on.</summary>
public sealed class ThisInstanceTests
{
    [Theory]
    [InlineData("http://127.0.0.1:5080", "http://127.0.0.1:5080/")]
    [InlineData("http://0.0.0.0:8080", "http://127.0.0.1:8080/")]
    [InlineData("http://[::]:8080", "http://[::1]:8080/")]
    [InlineData("http://+:8080", "http://localhost:8080/")]
    [InlineData("http://*:8080", "http://localhost:8080/")]
    public void A_wildcard_listener_is_called_on_loopback(string listening, string called) =>
        Assert.Equal(new Uri(called), ThisInstance.Address(new Listening(listening)));

    [Fact]
    public void Plain_HTTP_is_preferred_and_no_address_means_none()
    {
        Assert.Equal(new Uri("http://127.0.0.1:5080/"), ThisInstance.Address(new Listening("https://127.0.0.1:5443", "http://127.0.0.1:5080")));
        Assert.Null(ThisInstance.Address(new Listening()));
    }

    private sealed class Listening : IServer
    {
        public Listening(params string[] addresses)
        {
            var feature = new ServerAddressesFeature();
            foreach (var address in addresses) feature.Addresses.Add(address);
            Features.Set<IServerAddressesFeature>(feature);
        }

        public IFeatureCollection Features { get; } = new FeatureCollection();
        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken) where TContext : notnull => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public void Dispose() { }
    }
}
