using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Npgsql;
using Portal.Domain.Trading;
using Portal.Features.Identity;
using Portal.Infrastructure.Redis;
using Prometheus;
using StackExchange.Redis;

namespace Portal.Features.Halt;

/// <summary>
/// Each instance's in-memory trading state, which the order path reads without any I/O. Postgres is the only authority
/// (see docs/emergency-procedures.md, "What Redis may do"). The state in force for a scope is the strictest of:
/// <list type="bullet">
/// <item>what Postgres said (read every <see cref="HaltOptions.ReconcileInterval"/>, at once after any Redis message,
/// and after each write this instance makes); versions come from Postgres's sequence, never from a clock or a client;</item>
/// <item>halts this instance made whose Postgres write has not landed yet (retried until it does: the only thing this
/// instance ever writes back to Postgres is its own halt);</item>
/// <item>tightening hints from Redis (another instance's halt travels faster than its Postgres write). A hint is
/// believed at once but only until Postgres is read: it is dropped as soon as Postgres shows the scope at least as
/// strict (confirmed), at once if its version was never issued by Postgres's sequence (forged), and otherwise by the
/// first read that starts <see cref="HaltOptions.UnconfirmedHintGrace"/> after it arrived. A forged hint can therefore
/// halt an instance for at most the grace, never loosen anything, and is reported when it goes.</item>
/// </list>
/// A message that would loosen the state only makes the instance re-read Postgres. Forged or malformed messages and
/// state keys are security events and counted in <c>portal_trading_state_forged_total</c>. Nothing read from Redis
/// is ever written to Postgres; the Redis key is rewritten from Postgres when it differs.
/// </summary>
public sealed class TradingStateStore(
    NpgsqlDataSource db, IConnectionMultiplexer redis, IOptions<RedisOptions> redisOptions, IOptions<HaltOptions> options,
    ISecurityEventSink securityEvents, TimeProvider clock, ILogger<TradingStateStore> logger) : BackgroundService
{
    private static readonly Counter ReconcileFailures = Metrics.CreateCounter(
        "portal_trading_state_reconcile_failures_total", "Reconcile passes of the trading state that failed in a way nothing else handled.");

    public static readonly Counter Forged = Metrics.CreateCounter("portal_trading_state_forged_total",
        "Trading state messages or Redis keys that were malformed, forged or not backed by Postgres, by reason.", new CounterConfiguration { LabelNames = ["reason"] });

    // Readable in Redis for the runbook: {"scope":"global","mode":"halted",...}.
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };
    private const int MaxClaims = 256;
    private const string Columns = "scope, mode, reason, changed_by, changed_at, version";

    private readonly object _gate = new();
    private readonly Dictionary<string, (TradingStateEntry Entry, long Ticket)> _durable = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TradingStateEntry> _own = new(StringComparer.Ordinal);
    // Halts whose write is under way: the reconcile loop retries only those whose write ended without landing.
    private readonly HashSet<TradingStateEntry> _writing = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, Hint> _hints = new(StringComparer.Ordinal);
    private readonly List<Claim> _claims = [];
    private readonly ConcurrentDictionary<string, TradingStateEntry> _inForce = new(StringComparer.Ordinal);
    private readonly System.Threading.Channels.Channel<bool> _wake = System.Threading.Channels.Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly string _prefix = redisOptions.Value.KeyPrefix;
    private long _readTicket;
    private volatile bool _loaded;
    private volatile bool _redisVerified;
    private volatile bool _subscribed;
    private readonly DedicatedSubscriberThread _messages = new("trading-state-messages", logger);

    /// <summary>A tightening message believed until Postgres confirms it or the grace ends.</summary>
    private sealed record Hint(TradingStateEntry Entry, long ClaimedVersion, DateTimeOffset ArrivedAt, long ArrivedAfterTicket);

    /// <summary>What a message claimed, checked against Postgres on the next read.</summary>
    private sealed record Claim(string Scope, TradingMode Mode, long Version, bool Loosening);

    /// <summary>Raised on this instance whenever the state in force of a scope changes, whatever the source.</summary>
    public event Action<TradingStateEntry>? Changed;

    /// <summary>False until the state was read from Postgres once: until then nothing may trade.</summary>
    public bool Loaded => _loaded;

    /// <summary>False after a Redis restart or flush until the state in Redis was checked and restored.</summary>
    public bool RedisVerified => _redisVerified;

    private RedisChannel Channel => RedisChannel.Literal(_prefix + "trading:state-changes");

    private string Key(string scope) => _prefix + "trading:state:" + scope;

    /// <summary>The state in force of a scope.</summary>
    public TradingStateEntry Get(string scope) => _inForce.TryGetValue(scope, out var entry) ? entry : TradingStateEntry.Initial(scope);

    public IReadOnlyCollection<TradingStateEntry> All => _inForce.Values.OrderBy(e => e.Scope, StringComparer.Ordinal).ToList();

    public TradingMode ModeFor(string strategyId) =>
        TradingModeText.Strictest(Get(TradingScopes.Global).Mode, Get(TradingScopes.ForStrategy(strategyId)).Mode);

    /// <summary>The scope's state as Postgres last said (the version a resume answers).</summary>
    public TradingStateEntry Durable(string scope)
    {
        lock (_gate) return DurableOf(scope);
    }

    /// <summary>Halts the scope on this instance at once; call <see cref="PersistHaltAsync"/> next to make it durable (the reconcile loop retries it if that fails).</summary>
    public TradingStateEntry HaltLocally(string scope, string reason, string actor)
    {
        TradingStateEntry own;
        lock (_gate)
        {
            own = new TradingStateEntry(scope, TradingMode.Halted, reason, actor, clock.GetUtcNow(), DurableOf(scope).Version);
            _own[scope] = own;
            // Its first write follows at once (PersistHaltAsync): the reconcile loop must not write it a second time meanwhile.
            _writing.Add(own);
        }
        Recompute(scope);
        return own;
    }

    /// <summary>
    /// Writes this instance's halt: unconditional (a halt always wins), versioned by Postgres's sequence while the row is
    /// locked, with its history row. Returns the row as written.
    /// </summary>
    public async Task<TradingStateEntry> PersistHaltAsync(TradingStateEntry own, CancellationToken ct) =>
        (await WriteHaltAsync(own, retry: false, ct))!;

    private async Task<TradingStateEntry?> WriteHaltAsync(TradingStateEntry own, bool retry, CancellationToken ct)
    {
        lock (_gate)
            if (retry && !_writing.Add(own)) return null;
        try
        {
            return await InsertHaltAsync(own, ct);
        }
        finally
        {
            lock (_gate) _writing.Remove(own);
        }
    }

    private async Task<TradingStateEntry> InsertHaltAsync(TradingStateEntry own, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"""
            with s as (
                insert into trading_state ({Columns}) values ($1, 'halted', $2, $3, $4, nextval('trading_state_version_seq'))
                on conflict (scope) do update set mode = 'halted', reason = $2, changed_by = $3, changed_at = $4, version = nextval('trading_state_version_seq')
                returning {Columns})
            insert into trading_state_changes ({Columns}) select {Columns} from s returning {Columns}
            """);
        command.Parameters.AddWithValue(own.Scope);
        command.Parameters.AddWithValue(own.Reason);
        command.Parameters.AddWithValue(own.ChangedBy);
        command.Parameters.AddWithValue(own.ChangedAt);
        var written = await ReadOneAsync(command, ct) ?? throw new InvalidOperationException("The halt was not written.");
        lock (_gate)
            if (_own.TryGetValue(own.Scope, out var current) && ReferenceEquals(current, own)) _own.Remove(own.Scope);
        ApplyWritten(written);
        return written;
    }

    /// <summary>
    /// Changes a scope's mode in the caller's transaction, only if the row is still at <paramref name="expectedVersion"/>
    /// and not active (a resume), or, with no expected version, only if the scope is active (a restriction, which never
    /// loosens). Null when the condition did not hold. Call <see cref="ApplyWritten"/> after the commit.
    /// </summary>
    public static async Task<TradingStateEntry?> ChangeModeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string scope, TradingMode target,
        string reason, string actor, DateTimeOffset now, long? expectedVersion, CancellationToken ct)
    {
        var write = expectedVersion is null
            ? $"""
              insert into trading_state ({Columns}) values ($1, $2, $3, $4, $5, nextval('trading_state_version_seq'))
              on conflict (scope) do update set mode = $2, reason = $3, changed_by = $4, changed_at = $5, version = nextval('trading_state_version_seq')
              where trading_state.mode = 'active'
              """
            : $"""
              update trading_state set mode = $2, reason = $3, changed_by = $4, changed_at = $5, version = nextval('trading_state_version_seq')
              where scope = $1 and version = $6 and mode <> 'active'
              """;
        await using var command = new NpgsqlCommand($"""
            with s as ({write} returning {Columns})
            insert into trading_state_changes ({Columns}) select {Columns} from s returning {Columns}
            """, connection, transaction);
        command.Parameters.AddWithValue(scope);
        command.Parameters.AddWithValue(TradingModeText.Format(target));
        command.Parameters.AddWithValue(reason);
        command.Parameters.AddWithValue(actor);
        command.Parameters.AddWithValue(now);
        if (expectedVersion is { } version) command.Parameters.AddWithValue(version);
        return await ReadOneAsync(command, ct);
    }

    /// <summary>The scope's row in the caller's transaction, locked against concurrent changes; null when it has none (active).</summary>
    public static async Task<TradingStateEntry?> LockAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string scope, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"select {Columns} from trading_state where scope = $1 for update", connection, transaction);
        command.Parameters.AddWithValue(scope);
        return await ReadOneAsync(command, ct);
    }

    /// <summary>Takes a row this instance wrote (and committed) as the scope's Postgres state.</summary>
    public void ApplyWritten(TradingStateEntry written)
    {
        var ticket = Interlocked.Increment(ref _readTicket);
        lock (_gate) SetDurable(written, ticket);
        Recompute(written.Scope);
    }

    /// <summary>Reads one scope back from Postgres and applies it; returns the state in force afterwards.</summary>
    public async Task<TradingStateEntry> RefreshAsync(string scope, CancellationToken ct)
    {
        var ticket = Interlocked.Increment(ref _readTicket);
        await using var command = db.CreateCommand($"select {Columns} from trading_state where scope = $1");
        command.Parameters.AddWithValue(scope);
        var row = await ReadOneAsync(command, ct) ?? TradingStateEntry.Initial(scope);
        lock (_gate) SetDurable(row, ticket);
        Recompute(scope);
        return Get(scope);
    }

    /// <summary>Tells every instance (a hint: each re-reads Postgres, and a tightening applies at once) and sets the key (no expiry).</summary>
    public async Task PublishAsync(TradingStateEntry entry)
    {
        var json = JsonSerializer.Serialize(entry, Json);
        // Both commands are written before either is awaited: the message, which other instances act on, does not wait for the key's round trip.
        var published = redis.GetSubscriber().PublishAsync(Channel, json);
        var stored = redis.GetDatabase().StringSetAsync(Key(entry.Scope), json);
        await Task.WhenAll(published, stored);
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionRestored += OnRedisRestored;
        redis.ConnectionFailed += OnRedisFailed;
        await SubscribeAsync();
        await base.StartAsync(cancellationToken);
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionRestored -= OnRedisRestored;
        redis.ConnectionFailed -= OnRedisFailed;
        return base.StopAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _messages.Dispose();
        base.Dispose();
    }

    /// <summary>Reconciles every interval and as soon as possible after a message (requests made during a pass coalesce into the next one).</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var ticker = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(options.Value.ReconcileInterval, clock);
            while (await timer.WaitForNextTickAsync(stoppingToken)) _wake.Writer.TryWrite(true);
        }, stoppingToken);
        try
        {
            do
            {
                try
                {
                    await ReconcileAsync(stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // This loop is how halts written by other instances, and expiring forged hints, reach this one: it must
                    // outlive any failure it did not foresee (an escaping exception would stop it, and the host, for good).
                    ReconcileFailures.Inc();
                    logger.LogError(ex, "Trading state reconcile failed; retrying at the next interval");
                }
            }
            while (await _wake.Reader.WaitToReadAsync(stoppingToken) && _wake.Reader.TryRead(out _));
        }
        finally
        {
            try { await ticker; } catch (OperationCanceledException) { }
        }
    }

    /// <summary>
    /// Messages are handled on a thread of their own, so a halt takes effect here as soon as it arrives, not after the
    /// requests queued on the thread pool of a busy instance. Once subscribed, the multiplexer resubscribes by itself after reconnects;
    /// until then the reconcile loop carries the state.
    /// </summary>
    private async Task SubscribeAsync()
    {
        if (_subscribed) return;
        try
        {
            _messages.Consume(await redis.GetSubscriber().SubscribeOrWithdrawAsync(Channel), OnMessage);
            _subscribed = true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            logger.LogWarning("Not subscribed to trading state changes yet: {Error}", ex.Message);
        }
    }

    /// <summary>Postgres → memory (and the checks of hints and claims), this instance's unwritten halts → Postgres, Postgres → Redis key.</summary>
    public async Task ReconcileAsync(CancellationToken ct)
    {
        await SubscribeAsync();
        var ticket = Interlocked.Increment(ref _readTicket);
        var startedAt = clock.GetUtcNow();
        List<Claim> claims;
        lock (_gate)
        {
            claims = [.. _claims];
            _claims.Clear();
        }
        Dictionary<string, TradingStateEntry> stored;
        long lastIssued;
        HashSet<(string, long, string)> backed;
        try
        {
            (stored, lastIssued) = await LoadAsync(ct);
            backed = await HistoryOfAsync(claims.Where(c => c.Loosening).ToList(), ct);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException && !ct.IsCancellationRequested)
        {
            lock (_gate) _claims.InsertRange(0, claims.Take(MaxClaims - _claims.Count));
            logger.LogWarning(ex, "Could not read the trading state from Postgres");
            return;
        }

        var scopes = new HashSet<string>(stored.Keys, StringComparer.Ordinal);
        lock (_gate)
        {
            foreach (var scope in _durable.Keys.Concat(_hints.Keys)) scopes.Add(scope);
            foreach (var scope in scopes) SetDurable(stored.TryGetValue(scope, out var row) ? row : TradingStateEntry.Initial(scope), ticket);
        }
        CheckClaims(claims, lastIssued, backed);
        CheckHints(ticket, startedAt, lastIssued);
        // Every scope in force as well: a hint that arrived during this read, after `scopes` was taken, and that CheckHints
        // dropped (a never-issued version) was otherwise never recomputed again and stayed in force for good.
        lock (_gate) scopes.UnionWith(_inForce.Keys);
        foreach (var scope in scopes) Recompute(scope);
        _loaded = true;

        List<TradingStateEntry> unwritten;
        lock (_gate) unwritten = [.. _own.Values];
        foreach (var own in unwritten)
        {
            try
            {
                if (await WriteHaltAsync(own, retry: true, ct) is null) continue;
                logger.LogWarning("Halt of {Scope} written to Postgres after an earlier failure", own.Scope);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !ct.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Halt of {Scope} still not in Postgres; retrying", own.Scope);
            }
        }

        await RepairRedisAsync(lastIssued);
    }

    /// <summary>The key of each scope holds what Postgres says (or this instance's unwritten halt); a forged key is reported and replaced.</summary>
    private async Task RepairRedisAsync(long lastIssued)
    {
        try
        {
            var database = redis.GetDatabase();
            List<TradingStateEntry> published;
            lock (_gate)
                published = _durable.Keys.Concat(_own.Keys).Distinct(StringComparer.Ordinal)
                    .Select(scope => _own.TryGetValue(scope, out var own) ? own : DurableOf(scope)).ToList();
            foreach (var local in published)
            {
                var held = await database.StringGetAsync(Key(local.Scope));
                if (!held.HasValue)
                {
                    if (local.Version == 0 && local.Mode == TradingMode.Active) continue;
                    await database.StringSetAsync(Key(local.Scope), JsonSerializer.Serialize(local, Json));
                    if (local.Mode != TradingMode.Active) logger.LogWarning("Restored {Mode} for {Scope} in Redis (it held nothing)", local.Mode, local.Scope);
                    continue;
                }
                var parsed = Parse(held.ToString(), out var problem);
                problem ??= parsed!.Scope != local.Scope ? "invalid-scope"
                    : parsed.Version > lastIssued ? "never-issued-version"
                    : parsed.Version == local.Version && parsed.Mode < local.Mode ? "unbacked-loosening"
                    : null;
                if (problem is not null)
                {
                    Report("redis-key", local.Scope, problem, held.ToString());
                    await database.StringSetAsync(Key(local.Scope), JsonSerializer.Serialize(local, Json));
                }
                else if (parsed!.Version < local.Version)
                {
                    await database.StringSetAsync(Key(local.Scope), JsonSerializer.Serialize(local, Json));
                    if (local.Mode != TradingMode.Active) logger.LogWarning("Restored {Mode} for {Scope} in Redis (it held an older state)", local.Mode, local.Scope);
                }
            }
            _redisVerified = true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _redisVerified = false;
            logger.LogDebug(ex, "Redis unavailable during reconcile");
        }
    }

    /// <summary>Claims whose version Postgres never issued are forged; a loosening claim must be in the history with that mode.</summary>
    private void CheckClaims(List<Claim> claims, long lastIssued, HashSet<(string, long, string)> backed)
    {
        foreach (var claim in claims)
        {
            if (claim.Version > lastIssued)
                Report("redis-message", claim.Scope, "never-issued-version", $"{TradingModeText.Format(claim.Mode)} at version {claim.Version}; Postgres has issued up to {lastIssued}");
            else if (claim.Loosening && !backed.Contains((claim.Scope, claim.Version, TradingModeText.Format(claim.Mode))))
                Report("redis-message", claim.Scope, "unbacked-loosening", $"{TradingModeText.Format(claim.Mode)} at version {claim.Version} is not in trading_state_changes");
        }
    }

    private void CheckHints(long ticket, DateTimeOffset readStartedAt, long lastIssued)
    {
        var grace = options.Value.UnconfirmedHintGrace;
        List<(Hint Hint, string? Problem)> dropped = [];
        lock (_gate)
        {
            foreach (var (scope, hint) in _hints.ToList())
            {
                var durable = DurableOf(scope);
                string? problem;
                if (hint.ClaimedVersion > lastIssued) problem = "never-issued-version";
                else if (hint.ArrivedAfterTicket >= ticket) continue;   // this read may have started before the hint arrived
                else if (durable.Mode >= hint.Entry.Mode) problem = null;   // confirmed: Postgres says at least as much
                else if (readStartedAt - hint.ArrivedAt >= grace) problem = "unconfirmed-tightening";
                else continue;
                _hints.Remove(scope);
                dropped.Add((hint, problem));
            }
        }
        foreach (var (hint, problem) in dropped)
        {
            // A never-issued version was already reported with its claim.
            if (problem == "unconfirmed-tightening")
                Report("redis-message", hint.Entry.Scope, problem,
                    $"{TradingModeText.Format(hint.Entry.Mode)} not confirmed by Postgres within {grace}; dropped (it was in force since {hint.ArrivedAt:O})");
            else if (problem is null) logger.LogDebug("Hint {Mode} for {Scope} confirmed by Postgres", hint.Entry.Mode, hint.Entry.Scope);
        }
    }

    private async Task<(Dictionary<string, TradingStateEntry> Rows, long LastIssued)> LoadAsync(CancellationToken ct)
    {
        var result = new Dictionary<string, TradingStateEntry>(StringComparer.Ordinal);
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"select {Columns} from trading_state"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("select last_value from trading_state_version_seq"));
        await using var reader = await batch.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var entry = Read(reader);
            result[entry.Scope] = entry;
        }
        await reader.NextResultAsync(ct);
        await reader.ReadAsync(ct);
        return (result, reader.GetInt64(0));
    }

    private async Task<HashSet<(string, long, string)>> HistoryOfAsync(List<Claim> claims, CancellationToken ct)
    {
        var found = new HashSet<(string, long, string)>();
        if (claims.Count == 0) return found;
        await using var command = db.CreateCommand("""
            select c.scope, c.version, c.mode from trading_state_changes c join unnest($1::text[], $2::bigint[]) as k(scope, version)
            on c.scope = k.scope and c.version = k.version
            """);
        command.Parameters.AddWithValue(claims.Select(c => c.Scope).ToArray());
        command.Parameters.AddWithValue(claims.Select(c => c.Version).ToArray());
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) found.Add((reader.GetString(0), reader.GetInt64(1), reader.GetString(2)));
        return found;
    }

    private void OnMessage(RedisValue message)
    {
        var text = message.ToString();
        if (Parse(text, out var problem) is not { } claim)
        {
            Report("redis-message", "trading-state-channel", problem!, text);
            return;
        }
        bool changed;
        lock (_gate)
        {
            var inForce = Get(claim.Scope).Mode;
            var loosening = claim.Mode < inForce;
            if (_claims.Count >= MaxClaims) problem = "flood";
            else _claims.Add(new Claim(claim.Scope, claim.Mode, claim.Version, loosening));
            changed = claim.Mode > inForce && !(_hints.TryGetValue(claim.Scope, out var held) && held.Entry.Mode >= claim.Mode);
            if (changed)
                _hints[claim.Scope] = new Hint(
                    new TradingStateEntry(claim.Scope, claim.Mode, "unconfirmed (Redis): " + claim.Reason, claim.ChangedBy, clock.GetUtcNow(), DurableOf(claim.Scope).Version),
                    claim.Version, clock.GetUtcNow(), Interlocked.Read(ref _readTicket));
        }
        if (problem is not null) Report("redis-message", claim.Scope, problem, $"more than {MaxClaims} messages waiting for a Postgres read");
        if (changed) Recompute(claim.Scope);
        _wake.Writer.TryWrite(true);
    }

    /// <summary>A message or key as sent; null (with the reason) when it is no valid trading state.</summary>
    private static TradingStateEntry? Parse(string text, out string? problem)
    {
        problem = "malformed";
        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("scope", out var scopeValue) || scopeValue.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("mode", out var modeValue) || modeValue.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("version", out var versionValue) || versionValue.ValueKind != JsonValueKind.Number) return null;
            var scope = scopeValue.GetString()!;
            if (!IsScope(scope))
            {
                problem = "invalid-scope";
                return null;
            }
            if (modeValue.GetString() is not ("active" or "reduce_only" or "halted"))
            {
                problem = "unknown-mode";
                return null;
            }
            if (!versionValue.TryGetInt64(out var version) || version < 0)
            {
                problem = "invalid-version";
                return null;
            }
            problem = null;
            return new TradingStateEntry(scope, TradingModeText.Parse(modeValue.GetString()!), Text(root, "reason"), Text(root, "changedBy"), DateTimeOffset.UnixEpoch, version);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool IsScope(string scope) => scope == TradingScopes.Global
        || TradingScopes.StrategyOf(scope) is { Length: > 0 and <= 64 } id && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');

    private static string Text(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? UntrustedText.Printable(value.GetString()!) : "";

    /// <summary>A security event, a log line and the metric for something forged or malformed in Redis.</summary>
    private void Report(string source, string subject, string reason, string detail)
    {
        Forged.WithLabels(reason).Inc();
        logger.LogWarning("Forged or malformed trading state in Redis ({Source}, {Reason}) for {Subject}: {Detail}", source, reason, UntrustedText.Printable(subject), UntrustedText.Printable(detail));
        securityEvents.RecordWithoutWaiting(new SecurityEvent(SecurityEventKind.ForgedTradingState, clock.GetUtcNow(), null, UntrustedText.Printable(subject), source, null,
            $"{reason}: {UntrustedText.Printable(detail)}"), logger);
    }

    /// <summary>Newer reads win: a read that started before a later one (or before a write landed) cannot undo what that one saw.</summary>
    private void SetDurable(TradingStateEntry entry, long ticket)
    {
        if (_durable.TryGetValue(entry.Scope, out var held) && held.Ticket > ticket) return;
        _durable[entry.Scope] = (entry, ticket);
    }

    private TradingStateEntry DurableOf(string scope) => _durable.TryGetValue(scope, out var held) ? held.Entry : TradingStateEntry.Initial(scope);

    /// <summary>The strictest of Postgres's state, this instance's unwritten halt and a hint; on a tie, Postgres's entry.</summary>
    private void Recompute(string scope)
    {
        TradingStateEntry next;
        bool changed;
        lock (_gate)
        {
            next = DurableOf(scope);
            if (_own.TryGetValue(scope, out var own) && own.Mode > next.Mode) next = own;
            if (_hints.TryGetValue(scope, out var hint) && hint.Entry.Mode > next.Mode) next = hint.Entry;
            changed = !_inForce.TryGetValue(scope, out var current) ? next.Mode != TradingMode.Active || next.Version != 0 : !Equals(current, next);
            if (changed) _inForce[scope] = next;
        }
        if (changed) Changed?.Invoke(next);
    }

    private static async Task<TradingStateEntry?> ReadOneAsync(NpgsqlCommand command, CancellationToken ct)
    {
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    private static TradingStateEntry Read(NpgsqlDataReader reader) => new(reader.GetString(0), TradingModeText.Parse(reader.GetString(1)), reader.GetString(2),
        reader.GetString(3), reader.GetFieldValue<DateTimeOffset>(4), reader.GetInt64(5));

    private void OnRedisFailed(object? sender, ConnectionFailedEventArgs e) => _redisVerified = false;

    private void OnRedisRestored(object? sender, ConnectionFailedEventArgs e) => _redisVerified = false;
}
