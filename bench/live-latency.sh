#!/usr/bin/env bash
# Live-update latency across instances (issue 5): an order decided on Portal instance B until its row shows in a
# browser connected to instance A. Throwaway PostgreSQL (durable, as ./run) and Redis on free ports, two Portal
# processes (Release, Production, demo market on, demo strategy off) sharing them, then bench/Portal.LiveLatency
# driving Debian's Chromium. Prints p50/p95/p99/max. Everything started here is stopped on exit.
#
#   bench/live-latency.sh [--orders 200] [--gap-ms 100]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

WORK=$(mktemp -d /tmp/portal-latency.XXXXXX)
chmod 755 "$WORK"
pid_a= pid_b= started_pg= started_redis=
cleanup() {
  local status=$?
  for pid in $pid_a $pid_b; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  [ -n "$started_redis" ] && redis_stop "$REDIS_PORT" "$REDIS_PW"
  [ -n "$started_pg" ] && pg_stop "$WORK/pg"
  if [ "${KEEP:-}" = 1 ]; then echo "kept: $WORK"; else rm -rf "$WORK"; fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_postgres_binaries
ensure_redis_binaries
ensure_chromium

echo "== building Portal and Portal.LiveLatency (Release) ..."
dotnet publish Portal/Portal.csproj -c Release -o "$WORK/portal" -v quiet -nologo >"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log"; die "Portal build failed"; }
dotnet publish bench/Portal.LiveLatency/Portal.LiveLatency.csproj -c Release -o "$WORK/latency" -v quiet -nologo >>"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log"; die "Portal.LiveLatency build failed"; }

PG_PORT=$(free_port)
SUPER_PW=$(random_secret) OWNER_PW=$(random_secret) APP_PW=$(random_secret)
pg_start "$WORK/pg" "$PG_PORT" "$SUPER_PW"; started_pg=1
pg_create_roles "$WORK/pg" "$PG_PORT" portal portal_owner "$OWNER_PW" portal_app "$APP_PW"
REDIS_PORT=$(free_port) REDIS_PW=$(random_secret)
redis_start "$WORK/redis" "$REDIS_PORT" "$REDIS_PW"; started_redis=1

export ASPNETCORE_ENVIRONMENT=Production
export ConnectionStrings__Postgres="Host=127.0.0.1;Port=$PG_PORT;Database=portal;Username=portal_app;Password=$APP_PW"
export ConnectionStrings__PostgresMigrations="Host=127.0.0.1;Port=$PG_PORT;Database=portal;Username=portal_owner;Password=$OWNER_PW"
export ConnectionStrings__Redis=$(redis_connection_string "$REDIS_PORT" "$REDIS_PW")
# Outside Development Portal refuses to start without a certificate protecting its data-protection keys.
export DataProtection__CertificatePath="$WORK/data-protection.pem"; make_data_protection_certificate "$DataProtection__CertificatePath"
export Demo__Enabled=true Demo__StrategyEnabled=false Logging__LogLevel__Default=Warning

cd "$WORK/portal"
dotnet Portal.dll migrate >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log"; die "migration failed"; }
export Audit__SigningKeyPath="$WORK/audit-signing-key.pem"
dotnet Portal.dll generate-audit-key --out "$Audit__SigningKeyPath" >/dev/null
API_KEY=$(dotnet Portal.dll create-api-key --name latency --scopes orders --strategies latency --owner none | tail -1)
case "$API_KEY" in pk_*) ;; *) die "create-api-key did not print a key: $API_KEY";; esac
EMAIL=latency@bench.local
PASSWORD=$(dotnet Portal.dll create-user --email "$EMAIL" --role RiskOfficer | tail -1)

start_portal() { # name port
  Audit__CheckpointFile="$WORK/audit-checkpoints-$1.jsonl" dotnet Portal.dll --urls "http://127.0.0.1:$2" >"$WORK/portal-$1.log" 2>&1 &
  echo $!
}
wait_ready() { # url pid name
  for _ in $(seq 120); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $API_KEY" "$1/api/trading-state" || true)" = 200 ] && return 0
    kill -0 "$2" 2>/dev/null || { tail -30 "$WORK/portal-$3.log"; die "Portal $3 exited during start-up"; }
    sleep 0.5
  done
  die "Portal $3 did not answer"
}
PORT_A=$(free_port); pid_a=$(start_portal a "$PORT_A")
PORT_B=$(free_port); pid_b=$(start_portal b "$PORT_B")
wait_ready "http://127.0.0.1:$PORT_A" "$pid_a" a
wait_ready "http://127.0.0.1:$PORT_B" "$pid_b" b
echo "== Portal A on :$PORT_A (browser), Portal B on :$PORT_B (orders); PostgreSQL :$PG_PORT, Redis :$REDIS_PORT"

dotnet "$WORK/latency/Portal.LiveLatency.dll" --a "http://127.0.0.1:$PORT_A" --b "http://127.0.0.1:$PORT_B" \
  --api-key "$API_KEY" --email "$EMAIL" --password "$PASSWORD" "$@"
