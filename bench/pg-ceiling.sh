#!/usr/bin/env bash
# What PostgreSQL alone can persist on this machine, without Portal: pgbench replays the statements
# POST /api/orders commits for one order, many orders per transaction as the group committer does,
# on a throwaway durable cluster (fsync and synchronous_commit on) with the real schema (orders,
# paper broker and audit migrations). Prints orders/s and PostgreSQL CPU per order for each batch
# size and order kind.
#
#   bench/pg-ceiling.sh                   batch sizes 16 32 64 128, one writer (as GroupCommitter), 15 s each
#   BATCHES="32 64" CLIENTS=2 SECONDS_EACH=20 KINDS="accepted rejected no-audit" bench/pg-ceiling.sh
#
# "accepted" = what an accepted, filled order commits: the decision row (inserted with its final
# status), the paper broker's order, fill, account and position statements, each guarded on the
# decision row as Portal sends them, and three audit events (order.accepted,
# broker.order.acknowledged, broker.fill) sealed after the batch: the head locked, one insert of every
# event through unnest, the head moved. "rejected" = the decision row and one audit event.
# "no-audit" = accepted without the audit events, to show what the chain costs. "set" = accepted orders as Portal writes
# them now (session 13): each table once per batch, the account and positions once per batch, the same three events each;
# "set-no-audit" the same without the events.
# Statements are prepared (-M prepared), as Npgsql's auto-prepare does for Portal.
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
for m in 0001_orders_and_paper_broker 0003_audit 0006_paper_orders_recent_idx 0009_audit_indexes; do
  sed 's/\$app_role\$/postgres/g' "$ROOT/migrations/$m.sql" | psql_portal -f - >/dev/null
done
psql_portal -c "insert into paper_account values (1, 10000000, now())"
echo "PostgreSQL $(psql_portal -c 'show server_version'), fsync=$(psql_portal -c 'show fsync'), synchronous_commit=$(psql_portal -c 'show synchronous_commit'); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# One order's statements, as OrderGateway and PaperBroker send them (same tables, indexes and row shapes).
decision_sql() { cat <<'EOF'
\set n random(1, 2000000000)
\set m random(1, 2000000000)
insert into orders (id, client_order_id, request_hash, strategy_id, symbol, side, quantity, order_type, limit_price, time_in_force, decision, reason, limit_value, actual_value, message, reference_price, status, actor, created_at, updated_at, broker_order_id, filled_quantity, avg_fill_price)
  values (md5('d-' || :n || '-' || :m)::uuid, 'b-' || :n || '-' || :m, sha256(('h' || :n)::bytea), 'load-1', 'S' || (:n % 10), 'buy', 3, 'market', null, 'day', '@DECISION@', @REASON@, @LIMIT@, @ACTUAL@, @MESSAGE@, 228.5, '@STATUS@', 'apikey-bench', now(), now(), @BROKER_ID@, @FILLED@, @AVG@) on conflict (client_order_id) do nothing;
EOF
}
broker_sql() { cat <<'EOF'
insert into paper_orders (broker_order_id, client_order_id, symbol, side, quantity, order_type, limit_price, time_in_force, status, filled_quantity, avg_fill_price, created_at, updated_at)
  select md5('b-' || :n || '-' || :m)::uuid, 'b-' || :n || '-' || :m, 'S' || (:n % 10), 'buy', 3, 'market', null, 'day', 'filled', 3, 228.6143, now(), now() where exists (select 1 from orders where id = md5('d-' || :n || '-' || :m)::uuid);
insert into paper_fills (broker_order_id, symbol, side, quantity, price, filled_at) select md5('b-' || :n || '-' || :m)::uuid, 'S' || (:n % 10), 'buy', 3, 228.6143, now() where exists (select 1 from orders where id = md5('d-' || :n || '-' || :m)::uuid);
update paper_account set cash = cash - 685.84, updated_at = now() where id = 1 and exists (select 1 from orders where id = md5('d-' || :n || '-' || :m)::uuid);
insert into paper_positions as p (symbol, quantity, avg_price, realized_pnl, updated_at) select 'S' || (:n % 10), 3, 228.6143, 0, now() where exists (select 1 from orders where id = md5('d-' || :n || '-' || :m)::uuid) on conflict (symbol) do update set quantity = p.quantity + 3, avg_price = (p.avg_price * p.quantity + 228.6143 * 3) / (p.quantity + 3), updated_at = now();
EOF
}
# $1 audit events of about the size Portal seals (canonical RFC 8785 bytes, SHA-256 hashes) after the locked head.
audit_sql() { cat <<EOF
select seq, hash from audit_head where id = 1 for update;
insert into audit_events (seq, time, actor, type, subject, payload, prev_hash, hash, canonical, format_version) select h.seq + i, now(), 'apikey-bench', 'order.accepted', 'order' || chr(58) || 'b-' || i /* chr(58): a colon here would be read as a pgbench variable */, e.payload, sha256(('p' || i)::bytea), sha256(('h' || i)::bytea), convert_to(e.payload::text, 'UTF8'), 1 from audit_head h, generate_series(1, $1) i, lateral (select jsonb_build_object('orderId', gen_random_uuid(), 'clientOrderId', 'b-' || i || '-' || random(), 'strategyId', 'load-1', 'symbol', 'S3', 'side', 'buy', 'quantity', '3', 'orderType', 'market', 'limitPrice', null, 'timeInForce', 'day', 'referencePrice', '228.5', 'reason', null, 'limit', null, 'actual', null, 'message', null) as payload) e where h.id = 1;
update audit_head set seq = seq + $1, hash = sha256(hash) where id = 1;
EOF
}
# $1 accepted, filled orders written set by set, as GroupCommitter writes a batch since session 13: one insert per
# table over the whole batch (Portal sends arrays through unnest; generate_series makes the same rows here), one
# update of the account and one upsert of the positions the batch moved (10 symbols).
set_sql() { cat <<EOF
\set n random(1, 2000000000)
insert into orders (id, client_order_id, request_hash, strategy_id, symbol, side, quantity, order_type, limit_price, time_in_force, decision, reason, limit_value, actual_value, message, reference_price, status, actor, created_at, updated_at, broker_order_id, filled_quantity, avg_fill_price)
  select md5('d-' || :n || '-' || i)::uuid, 'b-' || :n || '-' || i, sha256(('h' || :n || i)::bytea), 'load-1', 'S' || (i % 10), 'buy', 3, 'market', null, 'day', 'accepted', null, null, null, null, 228.5, 'filled', 'apikey-bench', now(), now(), md5('b-' || :n || '-' || i), 3, 228.6143 from generate_series(1, $1) i;
insert into paper_orders (broker_order_id, client_order_id, symbol, side, quantity, order_type, limit_price, time_in_force, status, filled_quantity, avg_fill_price, created_at, updated_at)
  select md5('b-' || :n || '-' || i)::uuid, 'b-' || :n || '-' || i, 'S' || (i % 10), 'buy', 3, 'market', null, 'day', 'filled', 3, 228.6143, now(), now() from generate_series(1, $1) i;
insert into paper_fills (broker_order_id, symbol, side, quantity, price, filled_at) select md5('b-' || :n || '-' || i)::uuid, 'S' || (i % 10), 'buy', 3, 228.6143, now() from generate_series(1, $1) i;
update paper_account set cash = cash - 685.84 * $1, updated_at = now() where id = 1;
insert into paper_positions as p (symbol, quantity, avg_price, realized_pnl, updated_at) select 'S' || s, 3, 228.6143, 0, now() from generate_series(0, least($1, 10) - 1) s on conflict (symbol) do update set quantity = excluded.quantity + p.quantity, avg_price = excluded.avg_price, realized_pnl = p.realized_pnl + excluded.realized_pnl, updated_at = excluded.updated_at;
EOF
}
script() { # KIND BATCH: one transaction, pipelined like an NpgsqlBatch (one network round trip, not one per statement)
  echo "\startpipeline"
  echo "begin;"
  local events=0
  case $1 in set*) set_sql "$2"; events=$(($2 * 3));; esac
  for _ in $(seq "$2"); do
    case $1 in set*) break;; esac
    if [ "$1" != rejected ]; then
      decision_sql | sed -e "s/@DECISION@/accepted/;s/@REASON@/null/;s/@LIMIT@/null/;s/@ACTUAL@/null/;s/@MESSAGE@/null/;s/@STATUS@/filled/" \
        -e "s/@BROKER_ID@/md5('b-' || :n || '-' || :m)/;s/@FILLED@/3/;s/@AVG@/228.6143/"
      broker_sql
      events=$((events + 3))
    else
      decision_sql | sed -e "s/@DECISION@/rejected/;s/@REASON@/'MaxOrderValue'/;s/@LIMIT@/100000/;s/@ACTUAL@/1142500/;s/@MESSAGE@/'Order value \$1142500.00 exceeds the maximum of \$100000.00.'/;s/@STATUS@/rejected/" \
        -e "s/@BROKER_ID@/null/;s/@FILLED@/0/;s/@AVG@/null/"
      events=$((events + 1))
    fi
  done
  case $1 in *no-audit) ;; *) audit_sql "$events";; esac
  echo "commit;"
  echo "\endpipeline"
}

HZ=$(getconf CLK_TCK)
pg_pid=$(head -1 "$WORK/pg/data/postmaster.pid")
tree_ticks() { local t; t=$(awk '{print $14+$15+$16+$17}' "/proc/$1/stat"); for c in $(pgrep -P "$1"); do t=$((t + $(awk '{print $14+$15}' "/proc/$c/stat" 2>/dev/null || echo 0))); done; echo "$t"; }

printf '%-9s %6s %8s %12s %12s %14s %s\n' kind batch writers "orders/s" "commits/s" "PG CPU/order" "load average"
for kind in ${KINDS:-set set-no-audit accepted rejected no-audit}; do
  for batch in $BATCHES; do
    script "$kind" "$batch" >"$WORK/$kind-$batch.sql"
    c0=$(tree_ticks "$pg_pid")
    tps=$( (pg_run "$PGBIN/pgbench" -h "$WORK/pg/sock" -p "$PG_PORT" -U postgres -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_EACH" \
      -f "$WORK/$kind-$batch.sql" portal 2>"$WORK/pgbench.err" || true) | awk '/^tps = /{print $3}')
    [ -n "$tps" ] || { cat "$WORK/pgbench.err" >&2; die "pgbench failed"; }
    sleep 1  # the postmaster adds a backend's CPU to its own once it has reaped it
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
