using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Portal.Features.Observability;

namespace Portal.Features.MarketData;

/// <summary>A refused tick as kept for review. Price is null when it could not be represented.</summary>
public sealed record QuarantinedTick(DateTimeOffset ReceivedAt, string Source, string Symbol, decimal? Price, decimal? Bid, decimal? Ask,
    decimal? Size, DateTimeOffset TickTime, string Reason, string Detail);

/// <summary>
/// Refused ticks waiting for <see cref="QuarantineWriter"/>. Bounded: when the writer falls behind, new
/// refusals are counted in <c>data_quarantine_dropped</c> and dropped rather than slowing the ingest
/// (they are still counted in <c>data_validation_failures</c>).
/// </summary>
public sealed class QuarantineQueue(IOptions<MarketDataOptions> options)
{
    private readonly Channel<QuarantinedTick> _channel = Channel.CreateBounded<QuarantinedTick>(
        new BoundedChannelOptions(options.Value.QuarantineQueueCapacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    public ChannelReader<QuarantinedTick> Reader => _channel.Reader;

    public void Enqueue(QuarantinedTick tick)
    {
        // DropWrite reports success while discarding, so check the room first; a race only miscounts by one.
        if (_channel.Reader.Count >= options.Value.QuarantineQueueCapacity || !_channel.Writer.TryWrite(tick))
            PortalMetrics.DataQuarantineDropped.Inc();
    }
}

/// <summary>
/// Writes queued refusals to <c>market_data_quarantine</c> in batches (binary COPY) and prunes the table to
/// the newest <see cref="MarketDataOptions.QuarantineMaxRows"/> rows after each batch.
/// </summary>
public sealed class QuarantineWriter(QuarantineQueue queue, NpgsqlDataSource db, IOptions<MarketDataOptions> options, ILogger<QuarantineWriter> logger)
    : BackgroundService
{
    private const int MaxBatch = 5_000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<QuarantinedTick>(MaxBatch);
        try
        {
            while (await queue.Reader.WaitToReadAsync(stoppingToken))
            {
                while (batch.Count < MaxBatch && queue.Reader.TryRead(out var tick)) batch.Add(tick);
                try
                {
                    await WriteAsync(batch, stoppingToken);
                    batch.Clear();
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
                {
                    // Keep the batch and retry; meanwhile the bounded queue drops (and counts) the overflow.
                    logger.LogWarning("Quarantined ticks not written yet ({Count} waiting): {Error}", batch.Count, ex.Message);
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task WriteAsync(List<QuarantinedTick> batch, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using (var importer = await connection.BeginBinaryImportAsync(
            "copy market_data_quarantine (received_at, source, symbol, price, bid, ask, size, tick_time, reason, detail) from stdin (format binary)", ct))
        {
            foreach (var tick in batch)
            {
                await importer.StartRowAsync(ct);
                await importer.WriteAsync(tick.ReceivedAt, NpgsqlDbType.TimestampTz, ct);
                await importer.WriteAsync(Truncate(tick.Source, 120), NpgsqlDbType.Varchar, ct);
                await importer.WriteAsync(Truncate(tick.Symbol, 32), NpgsqlDbType.Varchar, ct);
                await WriteNumberAsync(importer, tick.Price, ct);
                await WriteNumberAsync(importer, tick.Bid, ct);
                await WriteNumberAsync(importer, tick.Ask, ct);
                await WriteNumberAsync(importer, tick.Size, ct);
                await importer.WriteAsync(tick.TickTime, NpgsqlDbType.TimestampTz, ct);
                await importer.WriteAsync(tick.Reason, NpgsqlDbType.Varchar, ct);
                await importer.WriteAsync(Truncate(tick.Detail, 1000), NpgsqlDbType.Text, ct);
            }
            await importer.CompleteAsync(ct);
        }
        // The id is monotonic, so "all but the newest N" is one index range.
        await using var prune = new NpgsqlCommand(
            "delete from market_data_quarantine where id <= (select id from market_data_quarantine order by id desc offset $1 limit 1)", connection);
        prune.Parameters.AddWithValue(options.Value.QuarantineMaxRows);
        await prune.ExecuteNonQueryAsync(ct);
    }

    private static async Task WriteNumberAsync(NpgsqlBinaryImporter importer, decimal? value, CancellationToken ct)
    {
        if (value is { } v) await importer.WriteAsync(v, NpgsqlDbType.Numeric, ct);
        else await importer.WriteNullAsync(ct);
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length];
}

/// <summary>Pages through quarantined ticks, newest first; <paramref name="symbol"/> filters when given.</summary>
public interface IQuarantineReader
{
    Task<(IReadOnlyList<QuarantineStore.QuarantineRow> Rows, int Total)> PageAsync(int page, int pageSize, string? symbol, CancellationToken ct);
}

/// <summary>Pages through the quarantine table, newest first.</summary>
public sealed class QuarantineStore(NpgsqlDataSource db) : IQuarantineReader
{
    public sealed record QuarantineRow(long Id, DateTimeOffset ReceivedAt, string Source, string Symbol, decimal? Price, decimal? Bid, decimal? Ask,
        decimal? Size, DateTimeOffset TickTime, string Reason, string Detail);

    public async Task<(IReadOnlyList<QuarantineRow> Rows, int Total)> PageAsync(int page, int pageSize, string? symbol, CancellationToken ct)
    {
        var filter = string.IsNullOrWhiteSpace(symbol) ? null : symbol.Trim().ToUpperInvariant();
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var count = new NpgsqlCommand("select count(*) from market_data_quarantine where $1::text is null or symbol = $1", connection);
        count.Parameters.Add(new NpgsqlParameter { Value = (object?)filter ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        var total = Convert.ToInt32(await count.ExecuteScalarAsync(ct));
        await using var select = new NpgsqlCommand("""
            select id, received_at, source, symbol, price, bid, ask, size, tick_time, reason, detail from market_data_quarantine
            where $1::text is null or symbol = $1 order by id desc offset $2 limit $3
            """, connection);
        select.Parameters.Add(new NpgsqlParameter { Value = (object?)filter ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        select.Parameters.AddWithValue(page * pageSize);
        select.Parameters.AddWithValue(pageSize);
        var rows = new List<QuarantineRow>();
        await using var reader = await select.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            rows.Add(new QuarantineRow(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3),
                Nullable(reader, 4), Nullable(reader, 5), Nullable(reader, 6), Nullable(reader, 7), reader.GetFieldValue<DateTimeOffset>(8),
                reader.GetString(9), reader.GetString(10)));
        return (rows, total);
    }

    private static decimal? Nullable(NpgsqlDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetDecimal(column);
}
