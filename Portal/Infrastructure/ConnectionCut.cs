using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Portal.Infrastructure;

/// <summary>
/// This process's TCP connections to one dependency, which a readiness drill can cut: <see cref="Cut"/> closes every
/// open socket and refuses new ones until <see cref="Restore"/>. The adapters create their sockets through it (Redis
/// through a tunnel, Alpaca through its HTTP handler), so a drill exercises the same failure a lost network would:
/// the client library's own error handling, reconnects and health checks, not a flag the adapter consults. Only this
/// process's connections are cut; the other instances keep theirs.
/// </summary>
public sealed class ConnectionCut(string dependency)
{
    public const string Redis = "redis";
    public const string Broker = "broker";

    // Weak: a socket the client library has closed and dropped is forgotten with it.
    private readonly ConditionalWeakTable<Socket, object> _sockets = new();
    private volatile bool _cut;

    public string Dependency { get; } = dependency;
    public bool IsCut => _cut;

    /// <summary>Registers a socket before it connects; while cut, it is refused as an unreachable network would be.</summary>
    public void Track(Socket socket)
    {
        ThrowIfCut();
        _sockets.AddOrUpdate(socket, Dependency);
        // A cut that began between the check and the registration has already walked the table without this socket.
        if (_cut)
        {
            socket.Dispose();
            ThrowIfCut();
        }
    }

    public void Cut()
    {
        _cut = true;
        foreach (var (socket, _) in _sockets)
        {
            try
            {
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Not connected yet, or already closed: disposing is all that is left to do.
            }
            socket.Dispose();
        }
        _sockets.Clear();
    }

    public void Restore() => _cut = false;

    /// <summary>An HTTP handler (also usable for WebSockets) whose connections go through this cut.</summary>
    public SocketsHttpHandler CreateHttpHandler() => new()
    {
        ConnectCallback = async (context, ct) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                Track(socket);
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    private void ThrowIfCut()
    {
        if (_cut) throw new SocketException((int)SocketError.NetworkUnreachable, $"The connection to {Dependency} is cut by a readiness drill.");
    }
}
