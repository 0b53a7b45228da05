#!/usr/bin/env bash
# A private PostgreSQL for the tests (salesiq-pg's tests/conformance.rs):
#
#   bash scripts/postgres.sh start   # prints the URL, also in $dir/url
#   bash scripts/postgres.sh stop
#
# `start` installs Debian's postgresql when initdb or pg_ctl is missing,
# then starts a fresh instance: data and socket directories under
# /tmp/salesiq-pg-<checkout> (made anew each run, owned by the `postgres` user, since
# PostgreSQL refuses to run as root), listening on 127.0.0.1 only, on a
# free port, trust authentication (a throwaway test instance on
# loopback), fsync off, and one database, salesiq_test. The URL is
# postgres://postgres@127.0.0.1:PORT/salesiq_test; the tests read it
# from SALESIQ_PG_URL and create a database of their own each.
set -euo pipefail
cd "$(dirname "$0")/.."

# Under /tmp, not the checkout: the postgres user must be able to reach
# it (a checkout under a private home directory is not), one per checkout.
dir="/tmp/salesiq-pg-$(printf '%s' "$PWD" | cksum | cut -d' ' -f1)"
data="$dir/data"
# shellcheck source=scripts/services.sh
source scripts/services.sh # (the working directory is the checkout)

bin_dir() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        if [[ -x $d/initdb && -x $d/pg_ctl ]]; then
            echo "$d"
            return
        fi
    done
}

# As the postgres user when we are root; as ourselves otherwise.
as_pg() {
    if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop() {
    local bin
    bin=$(bin_dir)
    if [[ -n $bin && -f $data/postmaster.pid ]]; then
        as_pg "$bin/pg_ctl" stop -D "$data" -m fast -t 30 >/dev/null || true
    fi
}

start() {
    if [[ -z $(bin_dir) ]]; then
        apt_install postgresql
    fi
    local bin port user
    bin=$(bin_dir)
    [[ -n $bin ]] || { echo "postgresql installed, but no initdb found" >&2; exit 1; }
    stop
    rm -rf "$dir"
    mkdir -p "$data" "$dir/socket"
    user=$(id -un)
    if [[ $(id -u) -eq 0 ]]; then
        chown -R postgres:postgres "$dir"
        user=postgres
    fi
    chmod 700 "$data"
    as_pg "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(free_port 55432)
    if ! as_pg "$bin/pg_ctl" start -D "$data" -l "$dir/server.log" -w -t 30 -o \
        "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/socket -c fsync=off -c max_connections=200" >/dev/null; then
        cat "$dir/server.log" >&2
        exit 1
    fi
    as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres salesiq_test
    local url="postgres://postgres@127.0.0.1:$port/salesiq_test"
    echo "$url" >"$dir/url"
    [[ $user == postgres ]] && chown postgres:postgres "$dir/url"
    echo "$url"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
