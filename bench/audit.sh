#!/usr/bin/env bash
# Audit trail benchmark on a throwaway PostgreSQL with durable commits (fsync and synchronous_commit on):
# sustained append rate from 2 processes, full verification rate (with and without comparing the
# queryable columns to the hashed bytes) beside a raw COPY of the same rows, and the time and peak memory
# of a JSONL export of the chain.
# Usage: bench/audit.sh [SECONDS] [WRITERS] [INFLIGHT] [EVENTS]   (defaults 20 8 64 1000000)
# EVENTS is the chain length verified and exported (at least what the append run left); 1M takes about 3 GB of disk.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
SECONDS_PER_RUN=${1:-20} WRITERS=${2:-8} INFLIGHT=${3:-64} EVENTS=${4:-1000000}

ensure_postgres_binaries
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
work=$(mktemp -d /tmp/portal-audit-bench.XXXXXX)
chmod 755 "$work" # the server runs as postgres when we are root
port=$(free_port)
trap 'pg_stop "$work/pg"; rm -rf "$work"' EXIT

dotnet build bench/Portal.AuditBench/Portal.AuditBench.csproj -c Release -o "$work/bin" -v quiet -nologo >/dev/null
pg_start "$work/pg" "$port" bench-super
pg_create_roles "$work/pg" "$port" portal portal_owner bench-owner portal_app bench-app
app="Host=127.0.0.1;Port=$port;Database=portal;Username=portal_app;Password=bench-app;Maximum Pool Size=50"
(cd "$work/bin" && ConnectionStrings__Postgres="$app" \
  ConnectionStrings__PostgresMigrations="Host=127.0.0.1;Port=$port;Database=portal;Username=portal_owner;Password=bench-owner" \
  dotnet Portal.dll migrate >/dev/null)
bench() { PORTAL_BENCH_PG="$app" dotnet "$work/bin/Portal.AuditBench.dll" "$@"; }

echo "# $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), PostgreSQL $(pg_run "$PGBIN/postgres" --version | awk '{print $3}')"
echo "# append: 2 processes x $WRITERS writers x $INFLIGHT appends in flight, ${SECONDS_PER_RUN}s"
bench append "$SECONDS_PER_RUN" "$WRITERS" "$INFLIGHT" > "$work/a1" & p1=$!
bench append "$SECONDS_PER_RUN" "$WRITERS" "$INFLIGHT" > "$work/a2" & p2=$!
wait $p1 $p2
cat "$work/a1" "$work/a2" | sed 's/^/process: /'
awk '/append_rate/ {s += $2} END {printf "append_rate_total %d events/s\n", s}' "$work/a1" "$work/a2"

have=$(pg_run psql -h "$work/pg/sock" -p "$port" -U postgres -d portal -qAt -c "select seq from audit_head")
need=$((EVENTS - have))
[ "$need" -gt 0 ] && bench fill "$need"
# Verification beside its yardstick, a raw COPY of the same columns of the same rows (issue #17: within 1.5x).
for what in columns links; do
  bench copy "$what" | tee "$work/copy-$what"
  bench verify "$what" | tee "$work/verify-$what"
  awk -v what="$what" '/_warm/ {rate[FILENAME ~ /copy/ ? "copy" : "verify"] = $2}
    END {printf "verify_vs_copy_%s %.2f times the time of the raw COPY (warm)\n", what, rate["copy"] / rate["verify"]}' "$work/copy-$what" "$work/verify-$what"
done
bench export "$work/export.jsonl"
echo "export_file_size $(( $(stat -c %s "$work/export.jsonl") / 1024 / 1024 )) MiB"
