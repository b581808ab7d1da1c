# Shared shell helpers for ./run and ./test: find or install PostgreSQL and Redis, start them on loopback.
# Sourced, not executed.

die() { echo "error: $*" >&2; exit 1; }

as_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
  as_root || die "missing $1; install it with: sudo apt-get install -y $1"
  command -v apt-get >/dev/null || die "missing $1 and no apt-get to install it; install $1 and retry"
  echo "Installing $* from Debian packages ..."
  (apt-get install -y -q "$@" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "$@" >/dev/null; }) \
    || die "could not install $*; install it by hand and retry"
}

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return; }; done
  command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return; }
  return 1
}

ensure_postgres_binaries() {
  PGBIN=$(pg_bindir) || { apt_install postgresql; PGBIN=$(pg_bindir) || die "PostgreSQL server binaries not found after install"; }
  export PGBIN
}

# The browser tests drive Debian's Chromium (never a downloaded browser).
ensure_chromium() {
  [ -x /usr/bin/chromium ] || apt_install chromium
  [ -x /usr/bin/chromium ] || die "/usr/bin/chromium not found after install"
}

ensure_redis_binaries() {
  command -v redis-server >/dev/null || apt_install redis-server
  command -v redis-server >/dev/null || die "redis-server not found after install"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# The server runs as 'postgres' when we are root (initdb refuses root), else as ourselves.
pg_run() { if as_root; then runuser -u postgres -- "$@"; else "$@"; fi; }

# pg_start DIR PORT SUPERUSER_PASSWORD [extra server options]
pg_start() {
  local dir=$1 port=$2 pw=$3; shift 3
  if as_root; then id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres; fi
  mkdir -p "$dir/sock"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    printf '%s\n' "$pw" > "$dir/pwfile"
    as_root && chown -R postgres:postgres "$dir"
    chmod 700 "$dir"
    # As root the server runs as 'postgres', which must be able to walk down to DIR (a checkout under a private
    # directory, such as one made by mktemp, is not).
    pg_run test -w "$dir" || die "PostgreSQL runs as the 'postgres' user here, which cannot reach $dir: make every directory above it searchable by others (chmod o+x), or set ConnectionStrings__Postgres and ConnectionStrings__PostgresMigrations for a server of your own (README)"
    pg_run "$PGBIN/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || die "initdb failed, see $dir/initdb.log"
    rm -f "$dir/pwfile"
  fi
  as_root && chown -R postgres:postgres "$dir"
  pg_run "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 && pg_run "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  pg_run "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/sock $*" start >/dev/null \
    || die "PostgreSQL did not start, see $dir/postgres.log"
}

pg_stop() { [ -d "$1/data" ] && pg_run "$PGBIN/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true; }

# pg_sql DIR PORT SQL: run SQL as the superuser over the local socket.
pg_sql() { pg_run psql -h "$1/sock" -p "$2" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt -c "$3"; }

# pg_create_roles DIR PORT DB OWNER OWNER_PW APP APP_PW: idempotent; the owner owns the database and runs migrations.
pg_create_roles() {
  local dir=$1 port=$2 db=$3 owner=$4 owner_pw=$5 app=$6 app_pw=$7
  pg_sql "$dir" "$port" "do \$\$ begin
      if not exists (select from pg_roles where rolname = '$owner') then create role $owner login password '$owner_pw'; end if;
      if not exists (select from pg_roles where rolname = '$app') then create role $app login password '$app_pw'; end if;
    end \$\$;"
  [ "$(pg_sql "$dir" "$port" "select 1 from pg_database where datname = '$db'")" = 1 ] \
    || pg_sql "$dir" "$port" "create database $db owner $owner"
  pg_sql "$dir" "$port" "revoke all on database $db from public; grant connect on database $db to $app"
}

# redis_start DIR PORT PASSWORD [extra options]: Redis answers only the ACL user 'portal' with PASSWORD (anything on
# the Redis network may be hostile); the default user is off. DIR/users.acl keeps the password's SHA-256, never the
# password, and redis-cli gets it from REDISCLI_AUTH, never from its command line.
redis_start() {
  local dir=$1 port=$2 pw=$3; shift 3
  mkdir -p "$dir"; chmod 700 "$dir"
  printf 'user default off\nuser portal on #%s ~* &* +@all\n' "$(printf '%s' "$pw" | sha256sum | cut -d' ' -f1)" > "$dir/users.acl"
  chmod 600 "$dir/users.acl"
  redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --dir "$dir" --aclfile "$dir/users.acl" \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" "$@" || die "redis-server did not start, see $dir/redis.log"
  for _ in $(seq 50); do [ "$(redis_cli "$port" "$pw" ping 2>/dev/null)" = PONG ] && return 0; sleep 0.1; done
  die "redis-server did not answer on port $port, see $dir/redis.log"
}

# redis_cli PORT PASSWORD COMMAND...: as Portal's ACL user.
redis_cli() { local port=$1 pw=$2; shift 2; REDISCLI_AUTH=$pw redis-cli --no-auth-warning --user portal -p "$port" "$@"; }

redis_stop() { redis_cli "$1" "$2" shutdown nosave >/dev/null 2>&1 || true; }

# redis_connection_string PORT PASSWORD: for ConnectionStrings__Redis (StackExchange.Redis syntax).
redis_connection_string() { echo "127.0.0.1:$1,user=portal,password=$2"; }

# make_data_protection_certificate FILE: a self-signed certificate and its private key in one PEM file (mode 600),
# for DataProtection:CertificatePath (the key ring is encrypted to it at rest).
make_data_protection_certificate() {
  local file=$1 tmp; tmp=$(mktemp -d)
  openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -subj "/CN=Portal data protection" \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1 || { rm -rf "$tmp"; die "openssl could not make $file"; }
  (umask 077; cat "$tmp/cert.pem" "$tmp/key.pem" > "$file")
  rm -rf "$tmp"
}

random_secret() { head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24; }
