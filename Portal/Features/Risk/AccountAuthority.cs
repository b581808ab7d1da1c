using Npgsql;
using Portal.Domain.Broker;
using Portal.Domain.Orders;
using Portal.Features.Broker;
using Portal.Features.Limits;
using Portal.Features.Orders;
using Portal.Infrastructure.Postgres;

namespace Portal.Features.Risk;

/// <summary>What a decision needs read under the account lock besides the account itself.</summary>
/// <param name="ClientOrderIds">Ids whose decision (in <c>orders</c>) is looked up, and their paper orders unless <paramref name="DecisionsOnly"/>.</param>
/// <param name="OpenPaperOrders">Every open paper order (cancels, fills on a price move).</param>
/// <param name="DecisionsOnly">Only whether the ids are decided: a new decision needs no paper order, as none exists for an undecided id.</param>
public sealed record AccountReads(IReadOnlyList<string> ClientOrderIds, bool OpenPaperOrders = false, bool DecisionsOnly = false)
{
    public static AccountReads None { get; } = new([]);
}

/// <summary>
/// The one authority for the account's risk state: Postgres, read under a row lock on <c>risk_account</c> in the group
/// committer's transaction. Every decision that can change the account (an order's decision, a paper fill, a cancel)
/// is a decision unit: its batch locks the row, reads positions, cash, working orders and equity marks under the lock,
/// and each unit decides in turn against that state, changed by the units before it. Two instances' batches wait for
/// each other on the lock, so no decision on any instance misses one committed on another (docs/architecture.md).
/// Positions of record: with the paper broker, its tables, written in these same transactions; with an external broker,
/// its last view (<see cref="RiskBook"/>), with every fill recorded since that view counted as still working.
/// </summary>
public sealed class AccountAuthority(PriceBook prices, TradingCalendar calendar, TimeProvider clock, IServiceProvider services)
    : IBatchLock
{
    // An external broker's view is as of its clock and ours; fills recorded this long before it are counted again.
    private static readonly TimeSpan ClockSkewAllowance = TimeSpan.FromSeconds(5);

    /// <summary>A decision unit: <paramref name="decide"/> runs under the lock against the ledger, and may run again on a retry.</summary>
    public PgWork Unit(AccountReads reads, Func<AccountLedger, UnitPlan> decide) =>
        new() { Decision = new PgDecision(this, reads, state => decide((AccountLedger)state)) };

    /// <summary>The paper account's and positions' net change over the batch (an external broker's positions are its own to write).</summary>
    public IReadOnlyList<NpgsqlBatchCommand> Settle(object state) => PaperBroker.Settle((AccountLedger)state, clock.GetUtcNow());

    public async Task<object> BeginLockAndReadAsync(NpgsqlConnection connection, IReadOnlyList<PgWork> decisions, CancellationToken ct)
    {
        var reads = decisions.Select(d => (AccountReads)d.Decision!.Reads).ToList();
        var ids = reads.SelectMany(r => r.ClientOrderIds).Distinct(StringComparer.Ordinal).ToArray();
        var paperIds = reads.Where(r => !r.DecisionsOnly).SelectMany(r => r.ClientOrderIds).Distinct(StringComparer.Ordinal).ToArray();
        var openOrders = reads.Any(r => r.OpenPaperOrders);
        // Resolved here, not injected: the paper broker itself decides through this authority.
        var paper = services.GetRequiredService<IBroker>().JoinsDecisionTransaction;
        // The external broker's positions of record: this instance's last view of them, and when it was taken.
        var view = paper ? null : services.GetRequiredService<RiskBook>().Portfolio
            ?? throw new InvalidOperationException("The broker's positions are not known yet.");
        var today = calendar.TradingDate(clock.GetUtcNow());

        await using var batch = new NpgsqlBatch(connection);
        var handlers = new List<Func<NpgsqlDataReader, AccountLedgerBuilder, Task>>();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("begin"));
        Add("select id from risk_account where id = 1 for update", (_, _) => Task.CompletedTask);
        Add(Marks(today), async (r, b) =>
        {
            if (!await r.ReadAsync(ct)) return;
            b.DayStart = r.IsDBNull(0) ? null : r.GetDecimal(0);
            b.WeekStart = r.IsDBNull(1) ? null : r.GetDecimal(1);
            b.HighWaterMark = r.IsDBNull(2) ? null : r.GetDecimal(2);
        });
        Add(OrderStore.Working(view?.AsOf - ClockSkewAllowance), async (r, b) =>
        {
            while (await r.ReadAsync(ct)) b.Working.Add((r.GetString(0), OrderText.ParseSide(r.GetString(1)), r.GetDecimal(2)));
        });
        if (ids.Length > 0)
            Add(OrderStore.RecordedAmong(ids), async (r, b) =>
            {
                while (await r.ReadAsync(ct)) b.Recorded.Add(r.GetString(0));
            });
        if (paper)
        {
            Add("select cash from paper_account where id = 1", async (r, b) =>
            {
                b.Cash = await r.ReadAsync(ct) ? r.GetDecimal(0) : throw new InvalidOperationException("The paper_account row is missing.");
            });
            Add("select symbol, quantity, avg_price from paper_positions where quantity <> 0", async (r, b) =>
            {
                while (await r.ReadAsync(ct)) b.Positions.Add((r.GetString(0), r.GetDecimal(1), r.GetDecimal(2)));
            });
            if (paperIds.Length > 0)
                Add(PaperBroker.OrdersByClientId(paperIds), async (r, b) =>
                {
                    while (await r.ReadAsync(ct)) b.PaperOrders.Add(PaperBroker.ReadOrder(r));
                });
            if (openOrders)
                Add(PaperBroker.OpenOrders(), async (r, b) =>
                {
                    while (await r.ReadAsync(ct)) b.PaperOrders.Add(PaperBroker.ReadOrder(r));
                });
        }

        var builder = new AccountLedgerBuilder();
        await using (var reader = await batch.ExecuteReaderAsync(ct))
        {
            // Statements without rows (the begin) may or may not show as empty results: each handler takes the next one with columns.
            var positioned = true;
            foreach (var handler in handlers)
            {
                if (!positioned) await NextResultAsync();
                while (reader.FieldCount == 0) await NextResultAsync();
                await handler(reader, builder);
                positioned = false;
            }
            while (await reader.NextResultAsync(ct)) { }

            async Task NextResultAsync()
            {
                if (!await reader.NextResultAsync(ct)) throw new InvalidOperationException("The account read returned too few results.");
            }
        }
        batch.BatchCommands.Clear();
        return builder.Build(prices, view);

        void Add(object statement, Func<NpgsqlDataReader, AccountLedgerBuilder, Task> handler)
        {
            batch.BatchCommands.Add(statement as NpgsqlBatchCommand ?? new NpgsqlBatchCommand((string)statement));
            handlers.Add(handler);
        }
    }

    private NpgsqlBatchCommand Marks(DateOnly today)
    {
        var command = new NpgsqlBatchCommand("""
            select (select start_equity from equity_marks where trading_date = $1),
                   (select start_equity from equity_marks where trading_date >= $2 order by trading_date limit 1),
                   (select max(high_water_mark) from equity_marks)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = today });
        command.Parameters.Add(new NpgsqlParameter { Value = calendar.WeekStart(today) });
        return command;
    }

    private sealed class AccountLedgerBuilder
    {
        public decimal Cash;
        public decimal? DayStart, WeekStart, HighWaterMark;
        public readonly List<(string Symbol, decimal Quantity, decimal AvgPrice)> Positions = [];
        public readonly List<(string Symbol, OrderSide Side, decimal Quantity)> Working = [];
        public readonly List<string> Recorded = [];
        public readonly List<PaperOrder> PaperOrders = [];

        public AccountLedger Build(PriceBook prices, BrokerPortfolio? view)
        {
            var ledger = new AccountLedger(prices, view?.Cash ?? Cash, DayStart, WeekStart, HighWaterMark);
            foreach (var (symbol, quantity, avgPrice) in view is null ? Positions : view.Positions.Select(p => (p.Symbol, p.Quantity, p.AvgPrice)))
                ledger.LoadPosition(symbol, quantity, avgPrice);
            foreach (var (symbol, side, quantity) in Working) ledger.AddWorking(symbol, side, quantity);
            // The broker's own list of open orders may hold orders Portal did not record (placed elsewhere): count the larger.
            if (view is not null)
                foreach (var group in view.OpenOrders.GroupBy(o => (o.Symbol, o.Side)))
                {
                    var listed = group.Sum(o => o.RemainingQuantity);
                    var recorded = Working.Where(w => w.Symbol == group.Key.Symbol && w.Side == group.Key.Side).Sum(w => w.Quantity);
                    if (listed > recorded) ledger.AddWorking(group.Key.Symbol, group.Key.Side, listed - recorded);
                }
            foreach (var id in Recorded) ledger.LoadRecorded(id);
            foreach (var order in PaperOrders) ledger.LoadPaperOrder(order);
            return ledger;
        }
    }
}
