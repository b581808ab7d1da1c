#!/usr/bin/env bash
# One-command load test of POST /api/orders on loopback (see bench/README.md):
# throwaway PostgreSQL (durable commits, as ./run: fsync and synchronous_commit on) and Redis on free
# ports in a temp dir, Portal built in Release with limits raised through configuration and the demo
# market's prices (without the demo strategy), then bench/Portal.Load, its report, and CPU use per
# process. Everything started here is stopped on exit.
#
#   bench/load.sh [Portal.Load arguments...]        e.g. bench/load.sh --clients 64 --duration 30s
#
# Environment knobs (all optional):
#   CLIENTS=64 DURATION=30s        defaults for the load tool (arguments given on the command line win)
#   PG_OPTS="-c ..."               extra PostgreSQL server options, for experiments only
#                                  (e.g. "-c synchronous_commit=off" — NOT durable, label such figures)
#   PG_POOL=100                    Npgsql "Maximum Pool Size" of Portal's connection string
#   PORTAL_ENV="K=V ..."           extra environment for Portal only (GroupCommit__MaxBatch=64, DOTNET_gcServer=0, ...)
#   IDLE_SECONDS=5                 after the load, measure Portal's CPU with no requests for this long (0: skip)
#   PERF=1                         profile Portal with perf during the run (perf map on, W^X off so JIT code is named;
#                                  starts PERF_DELAY=10 s into the load, after tiering settled: give DURATION >= 30s) and print its hottest functions
#   PG_STATEMENTS=1                load pg_stat_statements and print the statements that cost PostgreSQL the most time
#                                  (total and per call; planning and execution, not commit or WAL)
#   KEEP=1                         keep the temp dir (logs, data; with PERF=1 perf.data and Portal's /tmp/perf-PID.map) and print its path
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source scripts/services.sh

CLIENTS=${CLIENTS:-64}
DURATION=${DURATION:-30s}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

WORK=$(mktemp -d /tmp/portal-load.XXXXXX)
chmod 755 "$WORK"
portal_pid= started_pg= started_redis=
cleanup() {
  local status=$?
  if [ -n "${perf_pid:-}" ]; then kill -INT "$perf_pid" 2>/dev/null || true; fi
  if [ -n "$portal_pid" ]; then kill -TERM "$portal_pid" 2>/dev/null || true; wait "$portal_pid" 2>/dev/null || true; [ "${KEEP:-}" = 1 ] || rm -f "/tmp/perf-$portal_pid.map"; fi
  [ -n "$started_redis" ] && redis_stop "$REDIS_PORT" "$REDIS_PW"
  [ -n "$started_pg" ] && pg_stop "$WORK/pg"
  if [ "${KEEP:-}" = 1 ]; then echo "kept: $WORK"; else rm -rf "$WORK"; fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_postgres_binaries
ensure_redis_binaries

echo "== building Portal and Portal.Load (Release) ..."
dotnet publish Portal/Portal.csproj -c Release -o "$WORK/portal" -v quiet -nologo >"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log"; die "Portal build failed"; }
dotnet publish bench/Portal.Load/Portal.Load.csproj -c Release -o "$WORK/load" -v quiet -nologo >>"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log"; die "Portal.Load build failed"; }

PG_PORT=$(free_port)
SUPER_PW=$(random_secret) OWNER_PW=$(random_secret) APP_PW=$(random_secret)
echo "== PostgreSQL on 127.0.0.1:$PG_PORT (durable: fsync=on, synchronous_commit=on) ${PG_OPTS:+with $PG_OPTS}"
# shellcheck disable=SC2086
# track_wal_io_timing only adds timing of WAL writes/syncs to pg_stat_wal (reported below); durability is untouched.
pg_start "$WORK/pg" "$PG_PORT" "$SUPER_PW" -c track_wal_io_timing=on ${PG_STATEMENTS:+-c shared_preload_libraries=pg_stat_statements} ${PG_OPTS:-}; started_pg=1
pg_create_roles "$WORK/pg" "$PG_PORT" portal portal_owner "$OWNER_PW" portal_app "$APP_PW"
[ -n "${PG_STATEMENTS:-}" ] && pg_sql "$WORK/pg" "$PG_PORT" "create extension pg_stat_statements" >/dev/null
echo "   $(pg_sql "$WORK/pg" "$PG_PORT" "select 'fsync=' || current_setting('fsync') || ' synchronous_commit=' || current_setting('synchronous_commit') || ' wal_sync_method=' || current_setting('wal_sync_method') || ' max_connections=' || current_setting('max_connections')")"

REDIS_PORT=$(free_port) REDIS_PW=$(random_secret)
echo "== Redis on 127.0.0.1:$REDIS_PORT"
redis_start "$WORK/redis" "$REDIS_PORT" "$REDIS_PW" --appendonly yes; started_redis=1

export ASPNETCORE_ENVIRONMENT=Production
export ConnectionStrings__Postgres="Host=127.0.0.1;Port=$PG_PORT;Database=portal;Username=portal_app;Password=$APP_PW${PG_POOL:+;Maximum Pool Size=$PG_POOL}"
export ConnectionStrings__PostgresMigrations="Host=127.0.0.1;Port=$PG_PORT;Database=portal;Username=portal_owner;Password=$OWNER_PW"
export ConnectionStrings__Redis=$(redis_connection_string "$REDIS_PORT" "$REDIS_PW")
# Outside Development Portal refuses to start without a certificate protecting its data-protection keys.
export DataProtection__CertificatePath="$WORK/data-protection.pem"; make_data_protection_certificate "$DataProtection__CertificatePath"

cd "$WORK/portal"
dotnet Portal.dll migrate >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log"; die "migration failed"; }
# Outside Development Portal refuses to start without an audit signing key and checkpoint file.
dotnet Portal.dll generate-audit-key --out "$WORK/audit-signing-key.pem" >/dev/null
export Audit__SigningKeyPath="$WORK/audit-signing-key.pem" Audit__CheckpointFile="$WORK/audit-checkpoints.jsonl"
API_KEY=$(dotnet Portal.dll create-api-key --name load --scopes all --strategies '*' --owner none | tail -1)
case "$API_KEY" in pk_*) ;; *) die "create-api-key did not print a key: $API_KEY";; esac

# Limits raised for the run, as ceilings and as the first operational limits of the new database.
# Position size stays at its absolute maximum (100,000), so the load alternates buys and sells; the
# order value limit stays low enough that a 5,000-share order breaks it.
declare -A LIMITS=(
  [MaxOrderValueUsd]=100000        [MaxOrderQuantity]=10000         [MaxPositionSizeUsd]=100000
  [MaxPositionPctPortfolio]=1      [MaxTotalExposureUsd]=100000000  [MaxLeverage]=4
  [MaxOpenPositions]=10000         [MaxOrdersPerMinute]=100000000   [MaxOrdersPerDay]=1000000000
  [MaxOrdersPerMinuteGlobal]=100000000 [MaxOrdersPerDayGlobal]=1000000000
  [MaxDailyLossUsd]=100000000      [MaxWeeklyLossUsd]=100000000     [MaxDrawdownPct]=1
  [PriceCollarPct]=0.10
)
for name in "${!LIMITS[@]}"; do
  export "Risk__Ceilings__$name=${LIMITS[$name]}" "Risk__InitialLimits__$name=${LIMITS[$name]}"
done
export Broker__Paper__StartingCash=10000000
# The load tool sends everything with one key: its own per-key allowance raised as far as the rate limits above.
export ApiKeys__MaxOrdersPerMinutePerKey=1000000000 ApiKeys__MaxOrdersPerDayPerKey=1000000000
export Demo__Enabled=true Demo__StrategyEnabled=false
export Logging__LogLevel__Default=Warning

PORTAL_PORT=$(free_port)
URL="http://127.0.0.1:$PORTAL_PORT"
echo "== Portal on $URL (Release, log level Warning, demo market on, demo strategy off) ${PORTAL_ENV:+with $PORTAL_ENV}"
# shellcheck disable=SC2086
env ${PERF:+DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0} ${PORTAL_ENV:-} dotnet Portal.dll --urls "$URL" >"$WORK/portal.log" 2>&1 &
portal_pid=$!
for _ in $(seq 120); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $API_KEY" "$URL/api/limits" || true)
  [ "$code" = 200 ] && break
  kill -0 "$portal_pid" 2>/dev/null || { tail -30 "$WORK/portal.log"; die "Portal exited during start-up"; }
  sleep 0.5
done
[ "$code" = 200 ] || { tail -30 "$WORK/portal.log"; die "Portal did not answer GET /api/limits"; }
echo "   operational limits: $(curl -s -H "Authorization: Bearer $API_KEY" "$URL/api/limits" | python3 -c 'import json,sys; print(json.load(sys.stdin)["limits"])')"

# CPU accounting: jiffies of a process (and, for the postmaster, its backends) and of the whole machine.
HZ=$(getconf CLK_TCK)
proc_ticks() { awk '{print $14+$15+$16+$17}' "/proc/$1/stat" 2>/dev/null || echo 0; }
tree_ticks() { local total; total=$(proc_ticks "$1"); for c in $(pgrep -P "$1" || true); do total=$((total + $(proc_ticks "$c"))); done; echo "$total"; }
pg_pid=$(head -1 "$WORK/pg/data/postmaster.pid")
redis_pid=$(cat "$WORK/redis/redis.pid")
machine_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
# Server-side counters before and after: Portal's Prometheus metrics, Postgres commit and WAL statistics.
pg_stats() { pg_sql "$WORK/pg" "$PG_PORT" "select d.xact_commit, d.tup_inserted + d.tup_updated + d.tup_deleted, w.wal_sync, w.wal_sync_time, w.wal_write, w.wal_bytes
  from pg_stat_database d, pg_stat_wal w where d.datname = 'portal'" | tr '|' ' '; }
curl -s "$URL/metrics" >"$WORK/metrics0.txt" || true
pg_stats >"$WORK/pgstats0.txt"
redis_cli "$REDIS_PORT" "$REDIS_PW" info commandstats >"$WORK/redis-commands0.txt" || true
[ -n "${PG_STATEMENTS:-}" ] && pg_sql "$WORK/pg" "$PG_PORT" "select pg_stat_statements_reset()" >/dev/null
read -r portal0 pg0 redis0 busy0 < <(echo "$(tree_ticks "$portal_pid") $(tree_ticks "$pg_pid") $(proc_ticks "$redis_pid") $(machine_busy)")
t0=$(date +%s.%N)

if [ -n "${PERF:-}" ]; then
  command -v perf >/dev/null || die "PERF=1 needs perf (apt-get install linux-perf)"
  # Attached late rather than started disabled (-D): perf learns the JIT's code heaps from the process' maps when it
  # attaches, and those made while it waited disabled would leave most managed frames [unknown].
  (sleep "${PERF_DELAY:-10}"; exec perf record -e cpu-clock -F 499 -g -p "$portal_pid" -o "$WORK/perf.data" >"$WORK/perf.log" 2>&1) &
  perf_pid=$!
fi
echo "== load (load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores)"
set +e
dotnet "$WORK/load/Portal.Load.dll" --url "$URL" --api-key "$API_KEY" --pg "$ConnectionStrings__Postgres" \
  --clients "$CLIENTS" --duration "$DURATION" --server-pid "$portal_pid" "$@"
status=$?
set -e

t1=$(date +%s.%N)
if [ -n "${perf_pid:-}" ]; then kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true; fi
read -r portal1 pg1 redis1 busy1 < <(echo "$(tree_ticks "$portal_pid") $(tree_ticks "$pg_pid") $(proc_ticks "$redis_pid") $(machine_busy)")
curl -s "$URL/metrics" >"$WORK/metrics1.txt" || true
pg_stats >"$WORK/pgstats1.txt"
redis_cli "$REDIS_PORT" "$REDIS_PW" info commandstats >"$WORK/redis-commands1.txt" || true
echo
echo "== server side during the run (deltas; includes warm-up and probes)"
python3 "$ROOT/bench/server-stats.py" "$WORK" "$t0" "$t1"
python3 - "$HZ" "$t0" "$t1" "$portal0" "$portal1" "$pg0" "$pg1" "$redis0" "$redis1" "$busy0" "$busy1" "$(nproc)" <<'EOF'
import sys
hz, t0, t1 = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
v = [int(x) for x in sys.argv[4:12]]; cores = int(sys.argv[12]); wall = t1 - t0
portal, pg, redis, busy = (v[1]-v[0])/hz, (v[3]-v[2])/hz, (v[5]-v[4])/hz, (v[7]-v[6])/hz
rest = busy - portal - pg - redis
print(f"cpu during the load tool's {wall:.1f} s (cores busy on average): Portal {portal/wall:.2f}  PostgreSQL {pg/wall:.2f}  "
      f"Redis {redis/wall:.2f}  everything else (load tool, other users) {rest/wall:.2f}  machine {busy/wall:.2f} of {cores}")
EOF
if [ -n "${PG_STATEMENTS:-}" ]; then
  echo "== PostgreSQL statements by total time during the run (ms total, calls, µs per call, rows, query)"
  pg_sql "$WORK/pg" "$PG_PORT" "select round((total_exec_time + total_plan_time)::numeric, 0), calls,
      round(((total_exec_time + total_plan_time) * 1000 / greatest(calls, 1))::numeric, 1), rows,
      left(regexp_replace(query, '\s+', ' ', 'g'), 110)
    from pg_stat_statements order by total_exec_time + total_plan_time desc limit 25" | tr '|' '\t'
fi
# With no load at all: what Portal's background work (demo market ticks, risk view sync) costs now
# that the run's orders are held in memory.
IDLE=${IDLE_SECONDS:-5}
if [ "$IDLE" -gt 0 ]; then
  idle0=$(tree_ticks "$portal_pid"); sleep "$IDLE"; idle1=$(tree_ticks "$portal_pid")
  echo "Portal idle afterwards (no requests, $IDLE s): $(python3 -c "print(f'{($idle1 - $idle0) / $HZ / $IDLE:.2f}')") cores"
fi
problems=$(grep -cE '^(warn|fail|crit)' "$WORK/portal.log" || true)
if [ "$problems" -gt 0 ]; then
  echo "Portal log: $problems warnings/errors (first ones below; the RiskBook one at start-up is harmless)"
  grep -E '^(warn|fail|crit)' -A1 "$WORK/portal.log" | head -6
fi
if [ -n "${perf_pid:-}" ]; then
  echo
  echo "== perf: Portal's samples by thread and by module"
  perf report -i "$WORK/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null | grep -E '^ +[0-9.]+%' | head -8
  perf report -i "$WORK/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -E '^ +[0-9.]+%' | head -8
  echo "== perf: Portal's hottest functions (self time, share of Portal's samples)"
  perf report -i "$WORK/perf.data" --no-children --sort symbol --stdio -g none --percent-limit 0.7 2>/dev/null \
    | grep -E '^ +[0-9.]+%' | head -40 | cut -c1-160
  echo "== perf: inclusive (children) time"
  perf report -i "$WORK/perf.data" --children --sort symbol --stdio -g none --percent-limit 3 2>/dev/null \
    | grep -E '^ +[0-9.]+% +[0-9.]+%' | head -60 | cut -c1-160
fi
exit $status
