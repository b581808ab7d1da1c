using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Portal.Tests.Infrastructure;

/// <summary>
/// Real PostgreSQL and Redis server processes on loopback, started by the tests themselves so that
/// fault tests can kill and restart them. Root runs PostgreSQL as the 'postgres' user (initdb refuses root).
/// </summary>
public static class ServerProcesses
{
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string PostgresBin { get; } = Directory.GetDirectories("/usr/lib/postgresql").OrderDescending()
        .Select(d => Path.Combine(d, "bin")).FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")))
        ?? throw new InvalidOperationException("PostgreSQL server binaries not found under /usr/lib/postgresql (./test installs them).");

    public static bool IsRoot => Environment.UserName == "root";

    public static async Task<string> RunAsync(string file, string arguments, bool asPostgres = false, int timeoutSeconds = 60)
    {
        var info = asPostgres && IsRoot
            ? new ProcessStartInfo("runuser", $"-u postgres -- {file} {arguments}")
            : new ProcessStartInfo(file, arguments);
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {arguments} exited {process.ExitCode}: {await stderr} {await stdout}");
        return await stdout;
    }
}

/// <summary>A throwaway PostgreSQL cluster with trust auth on its socket and scram on TCP.</summary>
public sealed class PostgresServer : IAsyncDisposable
{
    public const string SuperPassword = "test-super";
    public const string OwnerPassword = "test-owner";
    public const string AppPassword = "test-app";

    private PostgresServer(string directory, int port) { Directory = directory; Port = port; }

    public string Directory { get; }
    public int Port { get; }
    private string Data => Path.Combine(Directory, "data");

    public string ConnectionString(string database, string user = "postgres", string password = SuperPassword) =>
        $"Host=127.0.0.1;Port={Port};Database={database};Username={user};Password={password};Pooling=true;Timeout=5;Command Timeout=30";

    public static async Task<PostgresServer> StartAsync()
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("portal-pg-").FullName;
        var server = new PostgresServer(directory, ServerProcesses.FreePort());
        await File.WriteAllTextAsync(Path.Combine(directory, "pwfile"), SuperPassword);
        if (ServerProcesses.IsRoot) await ServerProcesses.RunAsync("chown", $"-R postgres:postgres {directory}");
        await ServerProcesses.RunAsync(Path.Combine(ServerProcesses.PostgresBin, "initdb"),
            $"-D {server.Data} -U postgres --pwfile={directory}/pwfile --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync",
            asPostgres: true);
        await server.StartAsync(fast: true);
        return server;
    }

    /// <summary>Test speed: no fsync (the durability claims are measured by the benchmarks, not here).</summary>
    public Task StartAsync(bool fast = true) => ServerProcesses.RunAsync(Path.Combine(ServerProcesses.PostgresBin, "pg_ctl"),
        $"-D {Data} -l {Directory}/postgres.log -w -t 60 -o \"-c listen_addresses=127.0.0.1 -p {Port} -k {Directory} -c max_connections=300 " +
        (fast ? "-c fsync=off -c synchronous_commit=off -c full_page_writes=off" : "") + "\" start", asPostgres: true);

    public Task StopAsync() => ServerProcesses.RunAsync(Path.Combine(ServerProcesses.PostgresBin, "pg_ctl"), $"-D {Data} -m immediate -w stop", asPostgres: true);

    public async ValueTask DisposeAsync()
    {
        try { await StopAsync(); } catch (InvalidOperationException) { /* already stopped */ }
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>
/// A throwaway Redis server that, like ./run's, answers only Portal's ACL user (<see cref="User"/>, a password made
/// for this server) and has the default user switched off. The ACL file holds the password's SHA-256 only; a
/// restart (<see cref="StartAsync"/> after <see cref="Kill"/>) uses the same file.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    public const string User = "portal";
    private Process? _process;

    private RedisServer(int port, string directory)
    {
        Port = port;
        Directory = directory;
    }

    public int Port { get; }
    public string Directory { get; }
    public string Password { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
    public string ConnectionString => $"127.0.0.1:{Port},user={User},password={Password}";

    public static async Task<RedisServer> StartNewAsync()
    {
        var server = new RedisServer(ServerProcesses.FreePort(), System.IO.Directory.CreateTempSubdirectory("portal-redis-").FullName);
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(server.Password)));
        await File.WriteAllTextAsync(server.AclFile, $"user default off\nuser {User} on #{hash} ~* &* +@all\n");
        await server.StartAsync();
        return server;
    }

    private string AclFile => Path.Combine(Directory, "users.acl");

    public async Task StartAsync()
    {
        _process = Process.Start(new ProcessStartInfo("redis-server",
            $"--bind 127.0.0.1 --port {Port} --save \"\" --appendonly no --dir {Directory} --aclfile {AclFile}")
            { RedirectStandardOutput = true, UseShellExecute = false })!;
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }
        throw new InvalidOperationException($"redis-server did not listen on {Port}");
    }

    /// <summary>SIGKILL: the server vanishes as in a crash.</summary>
    public void Kill()
    {
        _process?.Kill();
        _process?.WaitForExit();
    }

    public ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false }) Kill();
        _process?.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        return ValueTask.CompletedTask;
    }
}
