#!/usr/bin/env bash
# Scenario runner (see bench/README.md): builds Portal (published, Release) and bench/Portal.Scenarios, then runs
# the scenarios against their own PostgreSQL, Redis and Portal processes on loopback. Exit code 1 if any
# expectation failed. Arguments go to the runner, e.g.:
#   bench/scenarios.sh --duration 600 --rate 5000
#   bench/scenarios.sh --short
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
ensure_postgres_binaries
ensure_redis_binaries
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

OUT=$(mktemp -d /tmp/portal-scenarios-build.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
echo "== building Portal and Portal.Scenarios (Release) ..."
dotnet publish Portal/Portal.csproj -c Release -o "$OUT/portal" -v quiet -nologo >"$OUT/build.log" 2>&1 \
  || { tail -30 "$OUT/build.log"; die "Portal build failed"; }
dotnet publish bench/Portal.Scenarios/Portal.Scenarios.csproj -c Release -o "$OUT/scenarios" -v quiet -nologo >>"$OUT/build.log" 2>&1 \
  || { tail -30 "$OUT/build.log"; die "Portal.Scenarios build failed"; }
dotnet "$OUT/scenarios/Portal.Scenarios.dll" --portal-dll "$OUT/portal/Portal.dll" "$@"
