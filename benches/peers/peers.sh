#!/usr/bin/env bash
# Reference XMPP servers (Debian's Prosody 0.12 and ejabberd 23.01) for
# side-by-side load measurement with our own server, on loopback only.
#
#   peers.sh install   apt-get install prosody and ejabberd, then stop and
#                      disable the packaged services (we run our own instances)
#   peers.sh start N   (re)generate the state dir, create users u0..u{N-1}
#                      (password load-pw) on load.test, start both servers and
#                      wait until each accepts a login on each port
#   peers.sh stop      stop both, leaving no process behind
#   peers.sh pids      print "prosody <pid>" and "ejabberd <pid>" (beam.smp),
#                      for reading /proc/<pid>/status
#
# Ports (127.0.0.1 only):   STARTTLS  direct TLS
#   prosody                 15222     15223
#   ejabberd                25222     25223
#
# Environment:
#   PEERS_DIR       state dir (default: <repo>/target/peers)
#   PEERS_AUTH      hashed (default): SCRAM-SHA-1 credentials stored, the
#                   packaged default of both servers; plain: plaintext stored
#   PEERS_SCRAM_ITER  PBKDF2 iterations of the stored SCRAM credentials (4096)
#   PEERS_NOFILE    open-file limit for both servers (65536, capped at the
#                   hard limit when it cannot be raised)
#   PEERS_LOGLEVEL  warn (default), info or debug, for both servers
#
# Needs root (uses sudo otherwise): the servers run as the prosody and
# ejabberd users. Verify a running pair with benches/peers/check.py.
set -euo pipefail

readonly DOMAIN=load.test
readonly PASSWORD=load-pw
readonly P_STARTTLS=15222 P_DIRECT=15223
readonly E_STARTTLS=25222 E_DIRECT=25223
readonly E_NODE=ejabberd-load@localhost
readonly SCRAM_SALT=peers-load-test-salt
readonly WAIT_SECS=90

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
STATE="${PEERS_DIR:-$REPO/target/peers}"
case $STATE in /*) ;; *) STATE="$PWD/$STATE" ;; esac
AUTH="${PEERS_AUTH:-hashed}"
SCRAM_ITER="${PEERS_SCRAM_ITER:-4096}"
NOFILE="${PEERS_NOFILE:-65536}"
LOGLEVEL="${PEERS_LOGLEVEL:-warn}"

CERT_DIR="$STATE/cert"
P_DIR="$STATE/prosody"
P_CFG="$P_DIR/prosody.cfg.lua"
P_PID="$P_DIR/prosody.pid"
E_DIR="$STATE/ejabberd"
E_PID="$E_DIR/ejabberd.pid"

log() { printf 'peers: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

run_root() {
    if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# as_user USER CMD...: runs CMD as USER with the open-file limit raised to
# $NOFILE (or to the hard limit, when it cannot be raised). The soft limit is
# set after runuser, whose pam_limits resets it to 1024.
as_user() {
    local user=$1
    shift
    # shellcheck disable=SC2016 # expanded by the inner shells
    run_root bash -c '
        want=$1 user=$2
        shift 2
        ulimit -n "$want" 2>/dev/null || true
        inner='\''ulimit -Sn "$(ulimit -Hn)" && exec "$@"'\''
        exec runuser -u "$user" -- bash -c "$inner" _ "$@"' _ "$NOFILE" "$user" "$@"
}

now() { printf '%s' "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

alive() { [[ -n ${1:-} ]] && run_root kill -0 "$1" 2>/dev/null; }

nofile_of() {
    awk '/^Max open files/ { print $4 }' "/proc/$1/limits" 2>/dev/null || echo "?"
}

# Exits 0 when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---------------------------------------------------------------- install

install_peers() {
    local missing=()
    local pkg
    for pkg in prosody ejabberd openssl; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        # Keep maintainer scripts from starting the packaged services; a
        # policy-rc.d that already exists is left as it is.
        local policy=/usr/sbin/policy-rc.d added_policy=""
        if [[ ! -e $policy ]]; then
            run_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
            added_policy=1
        fi
        local rc=0
        run_root apt-get update -qq || rc=$?
        if ((rc == 0)); then
            run_root env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -q -o Dpkg::Options::=--force-confold "${missing[@]}" || rc=$?
        fi
        if [[ -n $added_policy ]]; then run_root rm -f "$policy"; fi
        ((rc == 0)) || die "apt-get failed ($rc)"
    else
        log "prosody, ejabberd and openssl are installed"
    fi
    disable_packaged_services
    log "$(prosodyctl about 2>/dev/null | head -n1), ejabberd $(dpkg-query -W -f='${Version}' ejabberd)"
}

disable_packaged_services() {
    local svc
    for svc in prosody ejabberd epmd.socket epmd; do
        if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
            run_root timeout 60 systemctl disable --now "$svc" >/dev/null 2>&1 || true
        fi
    done
    for svc in prosody ejabberd; do
        if [[ -x /etc/init.d/$svc ]]; then
            if [[ ! -d /run/systemd/system ]]; then
                run_root timeout 60 /etc/init.d/"$svc" stop >/dev/null 2>&1 || true
            fi
            run_root update-rc.d "$svc" disable >/dev/null 2>&1 || true
        fi
    done
    local port busy=()
    for port in 5222 5223 5269 5280 5443; do
        if port_open "$port"; then busy+=("$port"); fi
    done
    if ((${#busy[@]})); then
        die "still listening on ${busy[*]} after stopping the packaged services"
    fi
    log "packaged prosody/ejabberd services stopped and disabled; nothing on 5222/5269/5280"
}

require_installed() {
    if ! command -v prosody >/dev/null || ! command -v ejabberdctl >/dev/null; then
        die "prosody/ejabberd missing: run '$0 install' first"
    fi
}

# ------------------------------------------------------------ credentials

# Sets SCRAM_STORED_HEX, SCRAM_SERVER_HEX (SCRAM-SHA-1 of $PASSWORD with
# $SCRAM_SALT and $SCRAM_ITER), computed once: every user shares the salt, so
# bulk creation costs no hashing at all.
scram_sha1() {
    local salted
    salted=$(openssl kdf -keylen 20 -kdfopt digest:SHA1 -kdfopt "pass:$PASSWORD" \
        -kdfopt "salt:$SCRAM_SALT" -kdfopt "iter:$SCRAM_ITER" PBKDF2 | tr -d ':\n' | tr 'A-F' 'a-f')
    SCRAM_STORED_HEX=$(printf 'Client Key' \
        | openssl dgst -sha1 -mac HMAC -macopt "hexkey:$salted" -binary \
        | openssl dgst -sha1 -r | cut -d' ' -f1)
    SCRAM_SERVER_HEX=$(printf 'Server Key' \
        | openssl dgst -sha1 -mac HMAC -macopt "hexkey:$salted" -r | cut -d' ' -f1)
}

hex_b64() {
    local hex=$1 i esc=""
    for ((i = 0; i < ${#hex}; i += 2)); do esc+="\\x${hex:i:2}"; done
    printf '%b' "$esc" | base64 -w0
}

make_cert() {
    mkdir -p "$CERT_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
        -subj "/CN=$DOMAIN" -addext "subjectAltName=DNS:$DOMAIN,DNS:localhost" \
        -keyout "$CERT_DIR/$DOMAIN.key" -out "$CERT_DIR/$DOMAIN.crt" 2>/dev/null
    chmod 644 "$CERT_DIR/$DOMAIN.crt"
    chmod 600 "$CERT_DIR/$DOMAIN.key"
}

# ---------------------------------------------------------------- prosody

prosody_write_config() {
    local auth_mod=internal_hashed level=$LOGLEVEL
    if [[ $AUTH == plain ]]; then auth_mod=internal_plain; fi
    cat >"$P_CFG" <<EOF
-- Generated by benches/peers/peers.sh: regenerated on every start.
pidfile = "$P_PID"
data_path = "$P_DIR/data"
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { $P_STARTTLS }
c2s_direct_tls_ports = { $P_DIRECT }
s2s_ports = { }
http_ports = { }
https_ports = { }
network_settings = { tcp_backlog = 4096 }

c2s_require_encryption = true
allow_registration = false
authentication = "$auth_mod"
default_iteration_count = $SCRAM_ITER
storage = "internal"
c2s_stanza_size_limit = 262144

-- No mod_limits (no rate limiting), no s2s, no HTTP, no smacks.
modules_enabled = {
    "roster"; "saslauth"; "tls"; "disco"; "ping"; "carbons"; "version"; "posix";
}
modules_disabled = { "s2s" }

log = {
    { levels = { min = "$level" }; to = "file"; filename = "$P_DIR/prosody.log" };
}

certificates = "$P_DIR"
ssl = { certificate = "$P_DIR/$DOMAIN.crt"; key = "$P_DIR/$DOMAIN.key" }

VirtualHost "$DOMAIN"
    ssl = { certificate = "$P_DIR/$DOMAIN.crt"; key = "$P_DIR/$DOMAIN.key" }
EOF
}

# Writes data_path/load%2etest/accounts/u<i>.dat directly.
prosody_write_users() {
    local n=$1 acct="$P_DIR/data/${DOMAIN//./%2e}/accounts"
    mkdir -p "$acct"
    if [[ $AUTH == plain ]]; then
        awk -v n="$n" -v dir="$acct" -v pw="$PASSWORD" 'BEGIN {
            for (i = 0; i < n; i++) {
                f = dir "/u" i ".dat"
                printf "return {\n\t[\"password\"] = \"%s\";\n};\n", pw > f
                close(f)
            } }'
    else
        awk -v n="$n" -v dir="$acct" -v it="$SCRAM_ITER" -v salt="$SCRAM_SALT" \
            -v sk="$SCRAM_STORED_HEX" -v svk="$SCRAM_SERVER_HEX" 'BEGIN {
            for (i = 0; i < n; i++) {
                f = dir "/u" i ".dat"
                printf "return {\n\t[\"iteration_count\"] = %d;\n\t[\"salt\"] = \"%s\";\n\t[\"server_key\"] = \"%s\";\n\t[\"stored_key\"] = \"%s\";\n};\n", it, salt, svk, sk > f
                close(f)
            } }'
    fi
}

prosody_start() {
    local n=$1 t0
    mkdir -p "$P_DIR/data"
    cp "$CERT_DIR/$DOMAIN.crt" "$CERT_DIR/$DOMAIN.key" "$P_DIR/"
    prosody_write_config
    t0=$(now)
    prosody_write_users "$n"
    run_root chown -R prosody:prosody "$P_DIR"
    run_root chmod 600 "$P_DIR/$DOMAIN.key"
    log "prosody: created $n users (files, $AUTH) in $(since "$t0") s"
    # -D: daemonize after the ports are bound; mod_posix writes our pidfile.
    as_user prosody prosody --config "$P_CFG" -D \
        >>"$STATE/prosody.stdout" 2>&1 || die "prosody failed to start, see $P_DIR/prosody.log"
    local deadline=$((SECONDS + WAIT_SECS))
    until [[ -s $P_PID ]] && alive "$(cat "$P_PID")"; do
        ((SECONDS < deadline)) || die "prosody wrote no pidfile within ${WAIT_SECS}s, see $P_DIR/prosody.log"
        sleep 0.2
    done
}

prosody_pid() {
    local pid
    pid=$(cat "$P_PID" 2>/dev/null || true)
    if alive "$pid"; then echo "$pid"; return; fi
    # A pidfile removed by hand: find our instance by its config path.
    pgrep -u prosody -f -- "--config $P_CFG" | head -n1 || true
}

prosody_stop() {
    local pid
    pid=$(prosody_pid)
    if [[ -n $pid ]]; then
        run_root kill -TERM "$pid" 2>/dev/null || true
        wait_gone "$pid" 20 || { log "prosody $pid ignored SIGTERM, killing"; run_root kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 5 || true; }
        log "prosody stopped (pid $pid)"
    fi
    run_root rm -f "$P_PID" 2>/dev/null || true
}

# --------------------------------------------------------------- ejabberd

# ejctl SECS ARGS...: ejabberdctl for our node, bounded by a timeout.
ejctl() {
    local secs=$1
    shift
    as_user ejabberd timeout "$secs" ejabberdctl --config-dir "$E_DIR" --config "$E_DIR/ejabberd.yml" \
        --ctl-config "$E_DIR/ejabberdctl.cfg" --logs "$E_DIR/log" \
        --spool "$E_DIR/db" --node "$E_NODE" "$@"
}

ejabberd_write_config() {
    local level format=scram
    case $LOGLEVEL in warn) level=warning ;; *) level=$LOGLEVEL ;; esac
    if [[ $AUTH == plain ]]; then format=plain; fi
    cat >"$E_DIR/ejabberdctl.cfg" <<EOF
# Generated by benches/peers/peers.sh (sourced by ejabberdctl).
ERLANG_NODE=$E_NODE
POLL=true
ERL_MAX_PORTS=$((NOFILE > 32768 ? NOFILE : 32768))
ERL_PROCESSES=1000000
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
INET_DIST_INTERFACE=127.0.0.1
ERL_EPMD_ADDRESS=127.0.0.1
EJABBERD_PID_PATH=$E_PID
EOF
    cp /etc/ejabberd/inetrc "$E_DIR/inetrc"
    cat >"$E_DIR/ejabberd.yml" <<EOF
# Generated by benches/peers/peers.sh: regenerated on every start.
hosts:
  - $DOMAIN
loglevel: $level
log_rotate_count: 0
certfiles:
  - "$E_DIR/$DOMAIN.crt"
  - "$E_DIR/$DOMAIN.key"
acme:
  auto: false
c2s_ciphers: "HIGH:!aNULL:!eNULL:!3DES:@STRENGTH"
c2s_protocol_options:
  - no_sslv3
  - no_tlsv1
  - no_tlsv1_1
  - cipher_server_preference
  - no_compression

# No traffic shaping anywhere (the packaged config shapes c2s to 3000 B/s),
# a large per-session queue, a deep accept backlog; no s2s or HTTP listener.
listen:
  -
    port: $E_STARTTLS
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: true
    shaper: none
    access: c2s
    max_stanza_size: 262144
    max_fsm_queue: 1000000
    backlog: 4096
  -
    port: $E_DIRECT
    ip: "127.0.0.1"
    module: ejabberd_c2s
    tls: true
    shaper: none
    access: c2s
    max_stanza_size: 262144
    max_fsm_queue: 1000000
    backlog: 4096
max_fsm_queue: 1000000
s2s_access: none
# The default of 1000 entries per cache (auth, roster, ...) thrashes with
# thousands of concurrent users.
cache_size: 100000

auth_method: internal
auth_password_format: $format
auth_scram_hash: sha
disable_sasl_mechanisms:
  - "digest-md5"
  - "x-oauth2"

acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"
shaper_rules:
  c2s_shaper: none
  max_user_sessions: 10

# No mod_fail2ban, mod_pres_counter, mod_stream_mgmt, pubsub or HTTP modules.
modules:
  mod_admin_extra: {}
  mod_carboncopy: {}
  mod_disco: {}
  mod_offline: {}
  mod_ping: {}
  mod_roster: {}
  mod_version:
    show_os: false
EOF
}

# XEP-0227 (PIEFXIS) file for import_piefxis. ejabberd 23.01 base64-decodes
# the <scram-credentials/> values once but keeps SCRAM keys base64-encoded
# internally, so the values here are base64 of the base64 encodings.
ejabberd_write_piefxis() {
    local n=$1 file=$2
    if [[ $AUTH == plain ]]; then
        awk -v n="$n" -v host="$DOMAIN" -v pw="$PASSWORD" 'BEGIN {
            print "<?xml version=\x27" "1.0\x27 encoding=\x27UTF-8\x27?>"
            print "<server-data xmlns=\x27urn:xmpp:pie:0\x27><host jid=\x27" host "\x27>"
            for (i = 0; i < n; i++) printf "<user name=\x27u%d\x27 password=\x27%s\x27/>\n", i, pw
            print "</host></server-data>"
        }' >"$file"
    else
        local salt sk svk
        salt=$(printf '%s' "$SCRAM_SALT" | base64 -w0 | base64 -w0)
        sk=$(hex_b64 "$SCRAM_STORED_HEX" | base64 -w0)
        svk=$(hex_b64 "$SCRAM_SERVER_HEX" | base64 -w0)
        awk -v n="$n" -v host="$DOMAIN" -v it="$SCRAM_ITER" -v salt="$salt" -v sk="$sk" -v svk="$svk" 'BEGIN {
            print "<?xml version=\x27" "1.0\x27 encoding=\x27UTF-8\x27?>"
            print "<server-data xmlns=\x27urn:xmpp:pie:0\x27><host jid=\x27" host "\x27>"
            cred = sprintf("<scram-credentials xmlns=\x27urn:xmpp:pie:0#scram\x27 mechanism=\x27SCRAM-SHA-1\x27><iter-count>%d</iter-count><salt>%s</salt><server-key>%s</server-key><stored-key>%s</stored-key></scram-credentials>", it, salt, svk, sk)
            for (i = 0; i < n; i++) printf "<user name=\x27u%d\x27>%s</user>\n", i, cred
            print "</host></server-data>"
        }' >"$file"
    fi
}

ejabberd_start() {
    local n=$1 t0 gen took out count
    mkdir -p "$E_DIR/db" "$E_DIR/log"
    cp "$CERT_DIR/$DOMAIN.crt" "$CERT_DIR/$DOMAIN.key" "$E_DIR/"
    ejabberd_write_config
    t0=$(now)
    ejabberd_write_piefxis "$n" "$E_DIR/users.xml"
    gen=$(since "$t0")
    run_root chown -R ejabberd:ejabberd "$E_DIR"
    run_root chmod 600 "$E_DIR/$DOMAIN.key"
    ejctl 60 start >>"$STATE/ejabberd.stdout" 2>&1 || die "ejabberdctl start failed, see $STATE/ejabberd.stdout"
    # 'started' polls the node (30 x 2 s at most).
    ejctl $((WAIT_SECS + 30)) started >>"$STATE/ejabberd.stdout" 2>&1 \
        || die "ejabberd did not start, see $E_DIR/log/ejabberd.log"
    t0=$(now)
    out=$(ejctl 900 --no-timeout import_piefxis "$E_DIR/users.xml" 2>&1) \
        || die "import_piefxis failed: $out"
    took=$(since "$t0")
    count=$(ejctl 120 registered_users "$DOMAIN" | grep -c . || true)
    ((count == n)) || die "ejabberd has $count users after import, expected $n: $out"
    log "ejabberd: created $n users ($AUTH): PIEFXIS file written in $gen s, import_piefxis took $took s"
}

ejabberd_pid() {
    local pid
    pid=$(cat "$E_PID" 2>/dev/null || true)
    if alive "$pid"; then echo "$pid"; return; fi
    pgrep -u ejabberd -f -- "-sname $E_NODE " | head -n1 || true
}

ejabberd_stop() {
    local pid
    pid=$(ejabberd_pid)
    if [[ -n $pid ]]; then
        ejctl 60 stop >/dev/null 2>&1 || run_root kill -TERM "$pid" 2>/dev/null || true
        wait_gone "$pid" 60 || { log "ejabberd $pid did not stop, killing"; run_root kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 5 || true; }
        log "ejabberd stopped (beam.smp pid $pid)"
    fi
    run_root rm -f "$E_PID" 2>/dev/null || true
    # The epmd that our node started, once no Erlang node is registered.
    if command -v epmd >/dev/null && epmd -names 2>/dev/null | grep -q '^epmd: up'; then
        if ! epmd -names 2>/dev/null | grep -q '^name '; then
            epmd -kill >/dev/null 2>&1 || true
        fi
    fi
}

# ------------------------------------------------------------- lifecycle

wait_gone() {
    local pid=$1 secs=$2 deadline=$((SECONDS + $2))
    while alive "$pid"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# Logs in as u0 with SASL PLAIN over port $1 (mode starttls or direct) with
# openssl s_client; exits 0 when the server answers <success/>.
login_ok() {
    local port=$1 mode=$2 auth out
    local args=(-connect "127.0.0.1:$port" -servername "$DOMAIN" -quiet)
    if [[ $mode == starttls ]]; then args+=(-starttls xmpp -xmpphost "$DOMAIN"); fi
    auth=$(printf '\0u0\0%s' "$PASSWORD" | base64 -w0)
    out=$({
        printf "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>" "$DOMAIN"
        printf "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>" "$auth"
        sleep 1
        printf '</stream:stream>'
    } | timeout 10 openssl s_client "${args[@]}" 2>/dev/null) || true
    [[ $out == *"<success"* ]]
}

wait_logins() {
    local name=$1 port mode deadline
    for port in "$2" "$3"; do
        mode=starttls
        if [[ $port == "$3" ]]; then mode=direct; fi
        deadline=$((SECONDS + WAIT_SECS))
        until port_open "$port" && login_ok "$port" "$mode"; do
            ((SECONDS < deadline)) || die "$name: no successful login on port $port ($mode) within ${WAIT_SECS}s"
            sleep 0.5
        done
    done
}

start_peers() {
    local n=${1:-}
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "usage: $0 start N   (N users u0..u{N-1})"
    [[ $AUTH == hashed || $AUTH == plain ]] || die "PEERS_AUTH must be hashed or plain"
    [[ $LOGLEVEL =~ ^(warn|info|debug)$ ]] || die "PEERS_LOGLEVEL must be warn, info or debug"
    [[ $SCRAM_ITER =~ ^[1-9][0-9]*$ && $NOFILE =~ ^[1-9][0-9]*$ ]] \
        || die "PEERS_SCRAM_ITER and PEERS_NOFILE must be positive integers"
    require_installed
    local t_all
    t_all=$(now)
    stop_peers
    # A failed start leaves nothing running.
    trap 'rc=$?; if ((rc)); then log "start failed, stopping both"; stop_peers; fi' EXIT
    mkdir -p "$STATE"
    run_root rm -rf "$P_DIR" "$E_DIR" "$CERT_DIR" "$STATE/prosody.stdout" "$STATE/ejabberd.stdout"
    make_cert
    if [[ $AUTH == hashed ]]; then scram_sha1; fi

    local t0
    t0=$(now)
    prosody_start "$n"
    wait_logins prosody "$P_STARTTLS" "$P_DIRECT"
    log "prosody: up and accepting logins $(since "$t0") s after generating its state"
    t0=$(now)
    ejabberd_start "$n"
    wait_logins ejabberd "$E_STARTTLS" "$E_DIRECT"
    log "ejabberd: up and accepting logins $(since "$t0") s after generating its state"
    log "started both in $(since "$t_all") s; state in $STATE, certificate $CERT_DIR/$DOMAIN.crt"

    local pver ever ppid epid
    pver=$(prosodyctl about 2>/dev/null | awk 'NR == 1 { print $2 }')
    ever=$(ejctl 60 status 2>/dev/null | sed -n 's/^ejabberd \([^ ]*\) is running.*/\1/p')
    ppid=$(prosody_pid)
    epid=$(ejabberd_pid)
    local p_auth=internal_hashed e_auth=scram
    if [[ $AUTH == plain ]]; then p_auth=internal_plain e_auth=plain; fi
    printf 'prosody  %-8s pid=%-7s starttls=127.0.0.1:%s direct_tls=127.0.0.1:%s auth=%s nofile=%s\n' \
        "$pver" "$ppid" "$P_STARTTLS" "$P_DIRECT" "$p_auth" "$(nofile_of "$ppid")"
    printf 'ejabberd %-8s pid=%-7s starttls=127.0.0.1:%s direct_tls=127.0.0.1:%s auth=%s nofile=%s\n' \
        "${ever:-?}" "$epid" "$E_STARTTLS" "$E_DIRECT" "$e_auth" "$(nofile_of "$epid")"
    local pid
    for pid in "$ppid" "$epid"; do
        if [[ $(nofile_of "$pid") =~ ^[0-9]+$ ]] && (($(nofile_of "$pid") < n + 1000)); then
            log "warning: pid $pid may open only $(nofile_of "$pid") files, fewer than $n users need"
        fi
    done
}

stop_peers() {
    prosody_stop
    if command -v ejabberdctl >/dev/null; then ejabberd_stop; fi
}

print_pids() {
    local ppid epid rc=0
    ppid=$(prosody_pid)
    epid=$(ejabberd_pid)
    if [[ -n $ppid ]]; then echo "prosody $ppid"; else log "prosody is not running"; rc=1; fi
    if [[ -n $epid ]]; then echo "ejabberd $epid"; else log "ejabberd is not running"; rc=1; fi
    return $rc
}

case ${1:-} in
    install) install_peers ;;
    start) start_peers "${2:-}" ;;
    stop) stop_peers ;;
    pids) print_pids ;;
    *)
        echo "usage: $0 install | start N | stop | pids" >&2
        exit 2
        ;;
esac
