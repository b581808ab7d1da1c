#!/usr/bin/env bash
# Runs once when the Postgres container's data directory is new: the schema owner (migrations only)
# and the application role (rows only), as ./run creates them on a developer machine.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
create role portal_owner login password '${PORTAL_OWNER_PASSWORD}';
create role portal_app login password '${PORTAL_APP_PASSWORD}';
create database portal owner portal_owner;
revoke all on database portal from public;
grant connect on database portal to portal_app;
SQL
