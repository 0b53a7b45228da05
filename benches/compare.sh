#!/usr/bin/env bash
# Side by side, in one run on this machine: salesiq-gateway, Prosody and
# ejabberd (Debian's packages), each measured by salesiq-load the same way,
# then the chat gateway itself (visitors on WebSockets, operators on XMPP).
# Prints one table; the raw JSON lines are kept in target/compare/.
#
#   bash benches/compare.sh                 # 1,000 pairs = 2,000 connections
#   PAIRS=5000 bash benches/compare.sh      # 10,000 connections per server
#
# Environment: PAIRS (1000), SECONDS_EACH (10), RATE (2000 msgs/s for the
# latency phase), WINDOW (8 messages in flight per user for throughput),
# MECH (scram-sha-1: the server does HMACs only, the client the PBKDF2,
# so logins compare the servers rather than their password hashing),
# VISITORS (1000) and GATEWAY_PAIRS (100) for the gateway run.
# Everything listens on and talks to 127.0.0.1 only; every phase is bounded
# in time; all servers are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

PAIRS=${PAIRS:-1000}
SECONDS_EACH=${SECONDS_EACH:-10}
RATE=${RATE:-2000}
WINDOW=${WINDOW:-8}
MECH=${MECH:-scram-sha-1}
VISITORS=${VISITORS:-1000}
GATEWAY_PAIRS=${GATEWAY_PAIRS:-100}
OUT=target/compare
CERT=target/peers/cert/load.test.crt
KEY=target/peers/cert/load.test.key
mkdir -p "$OUT"

ours_pid=""
cleanup() {
    [[ -n $ours_pid ]] && kill "$ours_pid" 2>/dev/null || true
    bash benches/peers/peers.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== building salesiq-load (release)"
cargo build --release -q -p salesiq-load
LOAD=target/release/salesiq-load
# The hard limit of open files bounds connections per process; use it.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "== Prosody and ejabberd with $((2 * PAIRS)) users"
bash benches/peers/peers.sh install
bash benches/peers/peers.sh start "$((2 * PAIRS))"

echo "== salesiq-gateway"
$LOAD serve --pairs "$PAIRS" --cert "$CERT" --key "$KEY" \
    --starttls-port 16222 --direct-port 16223 >"$OUT/serve.log" 2>&1 &
ours_pid=$!
for _ in $(seq 100); do
    grep -q "salesiq-load serve: pid" "$OUT/serve.log" && break
    sleep 0.1
done

pid_of() { bash benches/peers/peers.sh pids | awk -v n="$1" '$1 == n { print $2 }'; }

measure() { # label port naming pid
    echo "== measuring $1" >&2
    timeout 600 $LOAD xmpp --label "$1" --addr "127.0.0.1:$2" --naming "$3" --pid "$4" \
        --ca "$CERT" --pairs "$PAIRS" --mech "$MECH" --seconds "$SECONDS_EACH" \
        --rate "$RATE" --window "$WINDOW" --concurrency 64
}

: >"$OUT/xmpp.jsonl"
measure salesiq-gateway 16222 ours "$ours_pid" >>"$OUT/xmpp.jsonl"
kill "$ours_pid"; wait "$ours_pid" 2>/dev/null || true; ours_pid=""
measure "prosody $(prosodyctl about 2>/dev/null | awk '/^Prosody/ { print $2; exit }')" \
    15222 plain "$(pid_of prosody)" >>"$OUT/xmpp.jsonl"
measure "ejabberd $(dpkg-query -W -f '${Version}' ejabberd 2>/dev/null | cut -d- -f1)" \
    25222 plain "$(pid_of ejabberd)" >>"$OUT/xmpp.jsonl"
bash benches/peers/peers.sh stop >/dev/null 2>&1 || true

echo "== the chat gateway: $VISITORS visitors, $((2 * GATEWAY_PAIRS)) operators"
$LOAD serve --pairs "$GATEWAY_PAIRS" --gateway --http-port 18080 --database "$OUT/gateway.sqlite3" \
    --cert "$CERT" --key "$KEY" --starttls-port 16222 --direct-port 16223 >"$OUT/serve.log" 2>&1 &
ours_pid=$!
for _ in $(seq 100); do
    grep -q "visitors on" "$OUT/serve.log" && break
    sleep 0.1
done
timeout 600 $LOAD gateway --addr 127.0.0.1:16222 --ws 127.0.0.1:18080 --ca "$CERT" \
    --pairs "$GATEWAY_PAIRS" --visitors "$VISITORS" --seconds "$SECONDS_EACH" --rate "$RATE" \
    --pid "$ours_pid" >"$OUT/gateway.jsonl"

python3 - "$OUT/xmpp.jsonl" "$OUT/gateway.jsonl" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print()
print(f"{rows[0]['users']} TLS connections per server ({rows[0]['mechanism']}), 127.0.0.1, this machine:")
print()
print("| server | logins/s | KiB per idle connection | routed msgs/s | p50 / p99 / max ms at %d msgs/s |" % rows[0]["rate_asked"])
print("|---|---|---|---|---|")
for r in rows:
    lat = r["latency"]
    print(f"| {r['label']} | {r['logins_per_sec']:,.0f} | {r['kib_per_connection']:.1f} | "
          f"{r['throughput_msgs_per_sec']:,.0f} | {lat['p50_ms']:.2f} / {lat['p99_ms']:.2f} / {lat['max_ms']:.1f} |")
g = json.loads(open(sys.argv[2]).read())
rt = g["round_trip"]
print()
print(f"Chat gateway: {g['visitors_joined']}/{g['visitors']} visitors joined "
      f"(p50 {g['join']['p50_ms']:.0f} ms), {g['operators']} operators; "
      f"{g['round_trips_per_sec']:,.0f} round trips/s of {g['lines_sent_per_sec']:,.0f} asked, "
      f"p50 / p99 / max {rt['p50_ms']:.2f} / {rt['p99_ms']:.2f} / {rt['max_ms']:.1f} ms "
      "(visitor -> gateway -> operator's client -> gateway -> visitor).")
EOF
