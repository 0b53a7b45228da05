#!/usr/bin/env bash
# One node against two nodes on this machine (issue 14), measured by
# salesiq-load the same way: the two nodes run in one process (so they
# share the same cores as the one node) and talk over a real nats-server
# (scripts/nats.sh, started here), each with its own ports.
#
#   bash benches/nodes.sh
#
# 1. Colleague messages: PAIRS pairs of operators; with two nodes each
#    pair's users are on different nodes, so every message crosses NATS.
# 2. Chats: GATEWAY_PAIRS pairs of operators on node 0, VISITORS visitors
#    on node 1's WebSocket port: every offer, line and answer crosses.
# Prints one table; the raw JSON lines are kept in target/nodes/.
#
# Environment: PAIRS (1000), SECONDS_EACH (10), RATE (2000), WINDOW (8),
# VISITORS (1000), GATEWAY_PAIRS (100). Everything listens on and talks to
# 127.0.0.1 only; every phase is bounded in time; everything is stopped
# on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-1000}
SECONDS_EACH=${SECONDS_EACH:-10}
RATE=${RATE:-2000}
WINDOW=${WINDOW:-8}
VISITORS=${VISITORS:-1000}
GATEWAY_PAIRS=${GATEWAY_PAIRS:-100}
OUT=target/nodes
CERT_DIR=target/nodes/cert
CERT=$CERT_DIR/load.test.crt
KEY=$CERT_DIR/load.test.key
mkdir -p "$OUT" "$CERT_DIR"
serve_pid=""
cleanup() {
    [[ -n $serve_pid ]] && kill "$serve_pid" 2>/dev/null || true
    bash scripts/nats.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
if [[ ! -f $CERT ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
        -subj "/CN=load.test" -addext "subjectAltName=DNS:load.test" \
        -keyout "$KEY" -out "$CERT" >/dev/null 2>&1
fi
echo "== building salesiq-load (release)"
cargo build --release -q -p salesiq-load
LOAD=target/release/salesiq-load
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NATS=$(bash scripts/nats.sh start)
echo "== nats-server on $NATS"

serve() { # log, then serve's arguments
    local log=$1
    shift
    $LOAD serve --cert "$CERT" --key "$KEY" --starttls-port 16222 --direct-port 16232 \
        --http-port 18080 "$@" >"$log" 2>&1 &
    serve_pid=$!
    for _ in $(seq 300); do
        grep -q "visitors on\|serve: node" "$log" && sleep 0.5 && return
        sleep 0.1
    done
    echo "serve did not start: $(cat "$log")" >&2
    exit 1
}
stop() {
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
    serve_pid=""
}
xmpp() { # label, then extra arguments
    local label=$1
    shift
    echo "== colleague messages: $label" >&2
    timeout 600 $LOAD xmpp --label "$label" --addr 127.0.0.1:16222 --ca "$CERT" \
        --pairs "$PAIRS" --mech scram-sha-1 --seconds "$SECONDS_EACH" --rate "$RATE" \
        --window "$WINDOW" --concurrency 64 --pid "$serve_pid" "$@"
}
chats() { # label, ws port
    echo "== chats: $1" >&2
    timeout 600 $LOAD gateway --addr 127.0.0.1:16222 --ws "127.0.0.1:$2" --ca "$CERT" \
        --pairs "$GATEWAY_PAIRS" --visitors "$VISITORS" --seconds "$SECONDS_EACH" \
        --rate "$RATE" --pid "$serve_pid" | sed "s/^{/{\"deployment\":\"$1\",/"
}

: >"$OUT/xmpp.jsonl"
: >"$OUT/gateway.jsonl"
serve "$OUT/one.log" --pairs "$PAIRS"
xmpp "one node" >>"$OUT/xmpp.jsonl"
stop
serve "$OUT/two.log" --pairs "$PAIRS" --nodes 2 --nats "$NATS"
xmpp "two nodes, pairs split" --addr2 127.0.0.1:16223 >>"$OUT/xmpp.jsonl"
stop
serve "$OUT/one-gw.log" --pairs "$GATEWAY_PAIRS" --gateway --database "$OUT/one.sqlite3"
chats "one node" 18080 >>"$OUT/gateway.jsonl"
stop
serve "$OUT/two-gw.log" --pairs "$GATEWAY_PAIRS" --gateway --database "$OUT/two.sqlite3" \
    --nodes 2 --nats "$NATS"
chats "two nodes, visitors on node 1, operators on node 0" 18081 >>"$OUT/gateway.jsonl"
stop

python3 - "$OUT/xmpp.jsonl" "$OUT/gateway.jsonl" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print()
print(f"Colleague messages, {rows[0]['users']} TLS connections, 127.0.0.1, this machine:")
print()
print("| deployment | logins/s | routed msgs/s | p50 / p99 / max ms at %d msgs/s |" % rows[0]["rate_asked"])
print("|---|---|---|---|")
for r in rows:
    lat = r["latency"]
    print(f"| {r['label']} | {r['logins_per_sec']:,.0f} | "
          f"{r['throughput_msgs_per_sec']:,.0f} | {lat['p50_ms']:.2f} / {lat['p99_ms']:.2f} / {lat['max_ms']:.1f} |")
print()
print("| chats | visitors joined (p50 join) | round trips/s | p50 / p99 / max ms |")
print("|---|---|---|---|")
for line in open(sys.argv[2]):
    if not line.strip():
        continue
    g = json.loads(line)
    rt = g["round_trip"]
    print(f"| {g['deployment']} | {g['visitors_joined']}/{g['visitors']} ({g['join']['p50_ms']:.0f} ms) | "
          f"{g['round_trips_per_sec']:,.0f} of {g['lines_sent_per_sec']:,.0f} | "
          f"{rt['p50_ms']:.2f} / {rt['p99_ms']:.2f} / {rt['max_ms']:.1f} |")
EOF
