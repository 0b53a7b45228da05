#!/usr/bin/env bash
# A private NATS server for the tests (salesiq-cluster's tests/nats.rs):
#
#   bash scripts/nats.sh start   # prints the URL, also in $dir/url
#   bash scripts/nats.sh stop
#
# `start` installs Debian's nats-server when it is missing, then starts a
# fresh one under /tmp/salesiq-nats-<checkout> (its pid, log and URL
# there), listening on 127.0.0.1 only, on a free port, without
# authentication (a throwaway test server on loopback). The URL is
# nats://127.0.0.1:PORT; the tests read it from SALESIQ_NATS_URL.
set -euo pipefail
cd "$(dirname "$0")/.."

dir="/tmp/salesiq-nats-$(printf '%s' "$PWD" | cksum | cut -d' ' -f1)"
# shellcheck source=scripts/services.sh
source scripts/services.sh # (the working directory is the checkout)

server_bin() {
    command -v nats-server || { [[ -x /usr/sbin/nats-server ]] && echo /usr/sbin/nats-server; } || true
}

stop() {
    if [[ -f $dir/pid ]]; then
        local pid
        pid=$(cat "$dir/pid")
        if kill "$pid" 2>/dev/null; then
            for _ in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$dir/pid"
    fi
}

start() {
    if [[ -z $(server_bin) ]]; then
        apt_install nats-server
    fi
    local bin port
    bin=$(server_bin)
    [[ -n $bin ]] || { echo "nats-server installed, but not found" >&2; exit 1; }
    stop
    rm -rf "$dir"
    mkdir -p "$dir"
    port=$(free_port 54222)
    "$bin" -a 127.0.0.1 -p "$port" >"$dir/server.log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
    # Ready when it accepts connections (a few hundred milliseconds).
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            local url="nats://127.0.0.1:$port"
            echo "$url" >"$dir/url"
            echo "$url"
            return
        fi
        if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
            cat "$dir/server.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "nats-server did not listen on 127.0.0.1:$port within 10 s" >&2
    cat "$dir/server.log" >&2
    stop
    exit 1
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
