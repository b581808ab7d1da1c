using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Portal.Scenarios;

/// <summary>
/// Everything the runner starts on loopback: a durable PostgreSQL cluster, a Redis server (no persistence,
/// so a restart loses every key, the worst case), and Portal processes (the published Portal.dll), each
/// of which can be killed and restarted for real. Root runs PostgreSQL as 'postgres' (initdb refuses root).
/// </summary>
public sealed class Cluster : IAsyncDisposable
{
    private const string OwnerPassword = "scenario-owner";
    private const string AppPassword = "scenario-app";
    private readonly List<PortalProcess> _portals = [];
    private Process? _redis;

    private Cluster(string work, string portalDll)
    {
        Work = work;
        PortalDll = portalDll;
    }

    public string Work { get; }
    public string PortalDll { get; }
    public int PostgresPort { get; } = FreePort();
    public int RedisPort { get; } = FreePort();
    /// <summary>Redis answers only this ACL user and password (the default user is off), as under ./run.</summary>
    public string RedisPassword { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
    public string RedisConnectionString => $"127.0.0.1:{RedisPort},user=portal,password={RedisPassword}";
    public string DataProtectionCertificateFile => Path.Combine(Work, "data-protection.pem");
    public string AuditKeyFile => Path.Combine(Work, "audit-key.pem");
    public string CheckpointFile => Path.Combine(Work, "audit-checkpoints.jsonl");
    public static string PostgresBin { get; } = Directory.GetDirectories("/usr/lib/postgresql").OrderDescending()
        .Select(d => Path.Combine(d, "bin")).FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")))
        ?? throw new InvalidOperationException("PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql).");
    private static bool IsRoot => Environment.UserName == "root";

    public string AppConnectionString(string database) =>
        $"Host=127.0.0.1;Port={PostgresPort};Database={database};Username=portal_app;Password={AppPassword};Timeout=15;Command Timeout=30";
    public string OwnerConnectionString(string database) =>
        $"Host=127.0.0.1;Port={PostgresPort};Database={database};Username=portal_owner;Password={OwnerPassword};Timeout=15;Command Timeout=60;Pooling=false";

    public static async Task<Cluster> StartAsync(string portalDll, TextWriter log)
    {
        var work = Directory.CreateTempSubdirectory("portal-scenarios-").FullName;
        var cluster = new Cluster(work, portalDll);
        await RunAsync("chmod", $"755 {work}");
        var pgDir = Path.Combine(work, "pg");
        Directory.CreateDirectory(pgDir);
        if (IsRoot) await RunAsync("chown", $"-R postgres:postgres {pgDir}");
        await RunAsync(Path.Combine(PostgresBin, "initdb"), $"-D {pgDir}/data -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8", asPostgres: true);
        await cluster.StartPostgresAsync();
        await File.WriteAllTextAsync(Path.Combine(work, "users.acl"),
            $"user default off\nuser portal on #{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(cluster.RedisPassword)))} ~* &* +@all\n");
        await cluster.StartRedisAsync();
        await File.WriteAllTextAsync(cluster.DataProtectionCertificateFile, DataProtectionCertificatePem());
        log.WriteLine($"PostgreSQL 127.0.0.1:{cluster.PostgresPort} (durable: fsync and synchronous_commit on), Redis 127.0.0.1:{cluster.RedisPort} (no persistence), work dir {work}");
        await using (var connection = new NpgsqlConnection($"Host={pgDir};Port={cluster.PostgresPort};Username=postgres;Database=postgres;Pooling=false"))
        {
            await connection.OpenAsync();
            await new NpgsqlCommand($"create role portal_owner login password '{OwnerPassword}'; create role portal_app login password '{AppPassword}'", connection).ExecuteNonQueryAsync();
        }
        await RunAsync("dotnet", $"{portalDll} generate-audit-key --out {cluster.AuditKeyFile}");
        return cluster;
    }

    /// <summary>A new database with the schema applied by Portal's own migrate verb.</summary>
    public async Task CreateDatabaseAsync(string database)
    {
        await using (var connection = new NpgsqlConnection($"Host={Path.Combine(Work, "pg")};Port={PostgresPort};Username=postgres;Database=postgres;Pooling=false"))
        {
            await connection.OpenAsync();
            await new NpgsqlCommand($"create database {database} owner portal_owner; revoke all on database {database} from public; grant connect on database {database} to portal_app", connection)
                .ExecuteNonQueryAsync();
        }
        await RunAsync("dotnet", $"{PortalDll} migrate", environment: BaseEnvironment(database, "unused:"));
    }

    public Task StartPostgresAsync() => RunAsync(Path.Combine(PostgresBin, "pg_ctl"),
        $"-D {Work}/pg/data -l {Work}/pg/postgres.log -w -t 60 -o \"-c listen_addresses=127.0.0.1 -p {PostgresPort} -k {Work}/pg -c max_connections=400\" start", asPostgres: true);

    /// <summary>Immediate shutdown: no checkpoint, crash recovery on the next start, as after a power cut.</summary>
    public Task KillPostgresAsync() => RunAsync(Path.Combine(PostgresBin, "pg_ctl"), $"-D {Work}/pg/data -m immediate -w stop", asPostgres: true);

    public async Task StartRedisAsync()
    {
        _redis = Process.Start(new ProcessStartInfo("redis-server", $"--bind 127.0.0.1 --port {RedisPort} --save \"\" --appendonly no --dir {Work} --aclfile {Work}/users.acl")
            { RedirectStandardOutput = true, UseShellExecute = false })!;
        _redis.OutputDataReceived += (_, _) => { };
        _redis.BeginOutputReadLine();
        await WaitListeningAsync(RedisPort, TimeSpan.FromSeconds(10), "redis-server");
    }

    /// <summary>SIGKILL: the server vanishes as in a crash, with every key.</summary>
    public void KillRedis()
    {
        _redis!.Kill();
        _redis.WaitForExit();
        _redis.Dispose();
        _redis = null;
    }

    public Task RedisCommandAsync(string command) => RunAsync("redis-cli", $"--no-auth-warning --user portal -p {RedisPort} {command}",
        environment: new() { ["REDISCLI_AUTH"] = RedisPassword });

    /// <summary>A self-signed certificate with its key, for DataProtection:CertificatePath (required outside Development).</summary>
    private static string DataProtectionCertificatePem()
    {
        using var rsa = System.Security.Cryptography.RSA.Create(3072);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=Portal scenarios data protection", rsa,
            System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return certificate.ExportCertificatePem() + "\n" + rsa.ExportPkcs8PrivateKeyPem();
    }

    public Dictionary<string, string> BaseEnvironment(string database, string redisPrefix) => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["ConnectionStrings__Postgres"] = AppConnectionString(database),
        ["ConnectionStrings__PostgresMigrations"] = OwnerConnectionString(database),
        ["ConnectionStrings__Redis"] = RedisConnectionString,
        ["DataProtection__CertificatePath"] = DataProtectionCertificateFile,
        ["Redis__KeyPrefix"] = redisPrefix,
        ["Audit__SigningKeyPath"] = AuditKeyFile,
        ["Audit__CheckpointFile"] = CheckpointFile,
        ["Logging__LogLevel__Default"] = "Warning",
        ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
    };

    public PortalProcess AddPortal(string name, Dictionary<string, string> environment)
    {
        var portal = new PortalProcess(name, PortalDll, FreePort(), environment, Path.Combine(Work, name + ".log"));
        _portals.Add(portal);
        return portal;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var portal in _portals) portal.Kill();
        if (_redis is not null) KillRedis();
        try { await KillPostgresAsync(); } catch (InvalidOperationException) { /* already stopped */ }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static async Task WaitListeningAsync(int port, TimeSpan timeout, string what)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }
        throw new InvalidOperationException($"{what} did not listen on {port} within {timeout.TotalSeconds} s");
    }

    public static async Task<string> RunAsync(string file, string arguments, bool asPostgres = false, Dictionary<string, string>? environment = null)
    {
        var info = asPostgres && IsRoot ? new ProcessStartInfo("runuser", $"-u postgres -- {file} {arguments}") : new ProcessStartInfo(file, arguments);
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        foreach (var (key, value) in environment ?? []) info.Environment[key] = value;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // CLI verbs start a host; on a starved machine that has taken over two minutes.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(300));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {arguments} exited {process.ExitCode}: {await stderr} {await stdout}");
        return await stdout;
    }
}

/// <summary>One Portal server process; <see cref="Kill"/> is SIGKILL, <see cref="StartAsync"/> starts it again on the same port.</summary>
public sealed class PortalProcess(string name, string dll, int port, Dictionary<string, string> environment, string logFile)
{
    private Process? _process;

    public string Name { get; } = name;
    public Uri Url { get; } = new($"http://127.0.0.1:{port}/");
    public string LogFile { get; } = logFile;

    public async Task StartAsync(TimeSpan readyTimeout)
    {
        var info = new ProcessStartInfo("dotnet", $"{dll} --urls http://127.0.0.1:{Url.Port}")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        foreach (var (key, value) in environment) info.Environment[key] = value;
        var log = new StreamWriter(LogFile, append: true) { AutoFlush = true };
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        using var http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(2) };
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < readyTimeout)
        {
            if (_process.HasExited) throw new InvalidOperationException($"{Name} exited during start-up (code {_process.ExitCode}); see {LogFile}");
            try
            {
                if ((await http.GetAsync("health/ready")).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{Name} was not ready within {readyTimeout.TotalSeconds} s; see {LogFile}");
    }

    /// <summary>SIGKILL, as a crash: no graceful shutdown, nothing flushed.</summary>
    public void Kill()
    {
        if (_process is null) return;
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit();
        _process.Dispose();
        _process = null;
    }
}
