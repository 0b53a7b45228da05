#!/usr/bin/env bash
# A private SMTP sink for the tests (salesiq-integrations' tests/mail.rs):
#
#   env=$(bash scripts/smtp.sh start) && eval "$env"   # exports the two below
#   bash scripts/smtp.sh stop
#
# `start` installs aiosmtpd from PyPI when it is missing (as scripts/test.sh
# installs slixmpp: pip --user), then starts a fresh sink,
# scripts/smtp-sink.py, under /tmp/salesiq-smtp-<checkout> (its pid and
# log there), listening on 127.0.0.1 only, on a free port, plain SMTP
# without authentication (a throwaway test server on loopback). It keeps
# every message as a file (NAME.eml as received, NAME.json decoded) in
# $dir/mail and sends nothing on. It prints two lines, also in $dir/env:
#
#   export SALESIQ_SMTP_ADDR=127.0.0.1:PORT
#   export SALESIQ_SMTP_DIR=/tmp/salesiq-smtp-<checkout>/mail
#
# The tests read both. (Assign first, then eval: `eval "$(... start)"`
# alone would not stop a `set -e` script when start fails.)
set -euo pipefail
cd "$(dirname "$0")/.."

dir="/tmp/salesiq-smtp-$(printf '%s' "$PWD" | cksum | cut -d' ' -f1)"
# shellcheck source=scripts/services.sh
source scripts/services.sh # (the working directory is the checkout)

# The version measured on these machines.
aiosmtpd_version=1.4.6

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
    if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
        echo "== installing aiosmtpd $aiosmtpd_version (the tests need it)" >&2
        python3 -m pip install --user --break-system-packages --no-warn-script-location -q "aiosmtpd==$aiosmtpd_version" >&2
    fi
    stop
    rm -rf "$dir"
    mkdir -p "$dir/mail"
    local port
    port=$(free_port 52525)
    python3 scripts/smtp-sink.py "$port" "$dir/mail" >"$dir/server.log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
    # Ready when it greets (Python and aiosmtpd start in well under a second).
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port" && read -r -t 1 greeting <&3 && [[ $greeting == 220* ]]) 2>/dev/null; then
            printf 'export SALESIQ_SMTP_ADDR=%q\nexport SALESIQ_SMTP_DIR=%q\n' \
                "127.0.0.1:$port" "$dir/mail" >"$dir/env"
            cat "$dir/env"
            return
        fi
        if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
            cat "$dir/server.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "the SMTP sink did not listen on 127.0.0.1:$port within 10 s" >&2
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
