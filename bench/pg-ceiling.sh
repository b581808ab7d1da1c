#!/usr/bin/env bash
# What PostgreSQL alone can persist on this machine, without Portal: pgbench replays the exact
# statements POST /api/orders commits for one order, many orders per transaction as the group
# committer does, on a throwaway durable cluster (fsync and synchronous_commit on) with the real
# schema. Prints orders/s and PostgreSQL CPU per order for each batch size and order kind.
#
#   bench/pg-ceiling.sh                   batch sizes 16 32 64 128, one writer (as GroupCommitter), 15 s each
#   BATCHES="32 64" CLIENTS=2 SECONDS_EACH=20 KINDS="accepted no-account no-shared-rows rejected" bench/pg-ceiling.sh
#
# "accepted" = the decision row, then the paper broker's unit (order insert, fill, position upsert,
# account update, order update, orders status update): 7 statements. "rejected" = the decision row only.
# For diagnosis: "no-account" = accepted without the paper_account update (one row updated by every
# fill), "no-shared-rows" = also without the paper_positions upsert (one row per symbol).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source scripts/services.sh
BATCHES=${BATCHES:-16 32 64 128}
CLIENTS=${CLIENTS:-1}
SECONDS_EACH=${SECONDS_EACH:-15}

ensure_postgres_binaries
WORK=$(mktemp -d /tmp/portal-pgceiling.XXXXXX)
chmod 755 "$WORK"
started_pg=
cleanup() { local s=$?; [ -n "$started_pg" ] && pg_stop "$WORK/pg"; rm -rf "$WORK"; exit $s; }
trap cleanup EXIT
trap 'exit 130' INT TERM

PG_PORT=$(free_port)
pg_start "$WORK/pg" "$PG_PORT" "$(random_secret)" ${PG_OPTS:-}; started_pg=1
pg_sql "$WORK/pg" "$PG_PORT" "create database portal"
psql_portal() { pg_run psql -h "$WORK/pg/sock" -p "$PG_PORT" -U postgres -d portal -v ON_ERROR_STOP=1 -qAt "$@"; }
psql_portal -f "$ROOT/migrations/0001_orders_and_paper_broker.sql" >/dev/null
psql_portal -c "insert into paper_account values (1, 10000000, now())"
echo "PostgreSQL $(psql_portal -c 'show server_version'), fsync=$(psql_portal -c 'show fsync'), synchronous_commit=$(psql_portal -c 'show synchronous_commit'); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# One order's statements, as OrderGateway and PaperBroker send them (same tables, indexes and row shapes).
decision_sql() { cat <<'EOF'
insert into orders (id, client_order_id, request_hash, strategy_id, symbol, side, quantity, order_type, limit_price, time_in_force, decision, reason, limit_value, actual_value, message, reference_price, status, actor, created_at, updated_at)
  values (gen_random_uuid(), 'b-' || :n || '-' || :m, sha256(random()::text::bytea), 'load-1', 'S' || (:n % 10), 'buy', 3, 'market', null, 'day', '@DECISION@', @REASON@, @LIMIT@, @ACTUAL@, @MESSAGE@, 228.5, '@STATUS@', 'apikey-bench', now(), now()) on conflict (client_order_id) do nothing;
EOF
}
broker_sql() { cat <<'EOF'
insert into paper_orders (broker_order_id, client_order_id, symbol, side, quantity, order_type, limit_price, time_in_force, status, created_at, updated_at)
  values (md5('b-' || :n || '-' || :m)::uuid, 'b-' || :n || '-' || :m, 'S' || (:n % 10), 'buy', 3, 'market', null, 'day', 'new', now(), now());
insert into paper_fills (broker_order_id, symbol, side, quantity, price, filled_at) values (md5('b-' || :n || '-' || :m)::uuid, 'S' || (:n % 10), 'buy', 3, 228.6143, now());
insert into paper_positions (symbol, quantity, avg_price, realized_pnl, updated_at) values ('S' || (:n % 10), 3, 228.6, 0, now())
  on conflict (symbol) do update set quantity = excluded.quantity, avg_price = excluded.avg_price, realized_pnl = paper_positions.realized_pnl + excluded.realized_pnl, updated_at = excluded.updated_at;
update paper_account set cash = cash - 685.84, updated_at = now() where id = 1;
update paper_orders set status = 'filled', filled_quantity = 3, avg_fill_price = 228.6143, updated_at = now() where broker_order_id = md5('b-' || :n || '-' || :m)::uuid;
update orders set status = 'filled', broker_order_id = md5('b-' || :n || '-' || :m)::text, filled_quantity = 3, avg_fill_price = 228.6143, updated_at = now() where client_order_id = 'b-' || :n || '-' || :m and decision = 'accepted';
EOF
}
script() { # KIND BATCH: one transaction, pipelined like an NpgsqlBatch (one network round trip, not one per statement)
  echo "\startpipeline"
  echo "begin;"
  for _ in $(seq "$2"); do
    echo "\set n random(1, 2000000000)"
    echo "\set m random(1, 2000000000)"
    if [ "$1" != rejected ]; then
      decision_sql | sed -e "s/@DECISION@/accepted/;s/@REASON@/null/;s/@LIMIT@/null/;s/@ACTUAL@/null/;s/@MESSAGE@/null/;s/@STATUS@/pending_submit/"
      case "$1" in
        accepted) broker_sql ;;
        no-account) broker_sql | grep -v '^update paper_account' ;;
        no-shared-rows) broker_sql | grep -v '^update paper_account' | sed '/^insert into paper_positions/,+1d' ;;
      esac
    else
      decision_sql | sed -e "s/@DECISION@/rejected/;s/@REASON@/'MaxOrderValue'/;s/@LIMIT@/100000/;s/@ACTUAL@/1142500/;s/@MESSAGE@/'Order value \$1142500.00 exceeds the maximum of \$100000.00.'/;s/@STATUS@/rejected/"
    fi
  done
  echo "commit;"
  echo "\endpipeline"
}

HZ=$(getconf CLK_TCK)
pg_pid=$(head -1 "$WORK/pg/data/postmaster.pid")
tree_ticks() { local t; t=$(awk '{print $14+$15+$16+$17}' "/proc/$1/stat"); for c in $(pgrep -P "$1"); do t=$((t + $(awk '{print $14+$15}' "/proc/$c/stat" 2>/dev/null || echo 0))); done; echo "$t"; }

printf '%-9s %6s %8s %12s %12s %14s %s\n' kind batch writers "orders/s" "commits/s" "PG CPU/order" "load average"
for kind in ${KINDS:-accepted rejected}; do
  for batch in $BATCHES; do
    script "$kind" "$batch" >"$WORK/$kind-$batch.sql"
    c0=$(tree_ticks "$pg_pid")
    tps=$( (pg_run "$PGBIN/pgbench" -h "$WORK/pg/sock" -p "$PG_PORT" -U postgres -n -M extended -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_EACH" \
      -f "$WORK/$kind-$batch.sql" portal 2>"$WORK/pgbench.err" || true) | awk '/^tps = /{print $3}')
    [ -n "$tps" ] || { cat "$WORK/pgbench.err" >&2; die "pgbench failed"; }
    c1=$(tree_ticks "$pg_pid")
    python3 - "$kind" "$batch" "$CLIENTS" "$tps" "$c0" "$c1" "$HZ" "$SECONDS_EACH" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'EOF'
import sys
kind, batch, clients, tps, c0, c1, hz, secs, load = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4] or 0), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8]), sys.argv[9]
orders = tps * batch
cpu = (c1 - c0) / hz
print(f"{kind:<9} {batch:>6} {clients:>8} {orders:>12,.0f} {tps:>12,.0f} {cpu / max(orders * secs, 1) * 1e6:>11,.0f} µs  {load}")
EOF
  done
done
