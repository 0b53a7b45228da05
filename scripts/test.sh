#!/usr/bin/env bash
# The whole test suite, on a fresh machine too: installs what the browser
# tests need (Debian's chromium and chromium-driver) and the interop tests
# need (slixmpp) when it is missing, starts a private PostgreSQL for the
# PgStore tests (scripts/postgres.sh, which installs Debian's postgresql
# when missing), a private NATS server for the NatsBus tests
# (scripts/nats.sh, which installs Debian's nats-server when missing) and
# an SMTP sink for the SmtpMailer tests (scripts/smtp.sh, which installs
# aiosmtpd when missing), all stopped again at exit,
# then runs `cargo test --workspace` with any arguments given.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
    echo "== installing chromium and chromium-driver (browser tests)"
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# Opening hours are read in their time zones from the system's zoneinfo
# (salesiq-session's OpeningHours, tz-rs): Debian's tzdata.
if [[ ! -e /usr/share/zoneinfo/Asia/Tokyo ]]; then
    echo "== installing tzdata (opening hours in time zones)"
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq tzdata >/dev/null
fi

# The archive's interop test (crates/salesiq-xmpp/tests/slixmpp_mam.rs)
# drives slixmpp, the version measured on these machines.
if ! python3 -c 'import slixmpp' 2>/dev/null; then
    echo "== installing slixmpp 1.17.0 (interop tests)"
    python3 -m pip install --user --break-system-packages -q 'slixmpp==1.17.0'
fi

# salesiq-pg's tests (crates/salesiq-pg/tests/conformance.rs) make their
# databases on this server; they read its URL from SALESIQ_PG_URL.
echo "== starting PostgreSQL (PgStore tests)"
trap 'bash scripts/postgres.sh stop' EXIT
SALESIQ_PG_URL=$(bash scripts/postgres.sh start)
export SALESIQ_PG_URL

# salesiq-cluster's tests (crates/salesiq-cluster/tests/nats.rs) connect
# to this server; they read its URL from SALESIQ_NATS_URL.
echo "== starting nats-server (NatsBus tests)"
trap 'bash scripts/nats.sh stop; bash scripts/postgres.sh stop' EXIT
SALESIQ_NATS_URL=$(bash scripts/nats.sh start)
export SALESIQ_NATS_URL

# salesiq-integrations' SMTP tests (crates/salesiq-integrations/tests/mail.rs)
# send to this sink and read what it kept; the script prints
# `export SALESIQ_SMTP_ADDR=...` and `export SALESIQ_SMTP_DIR=...`.
echo "== starting the SMTP sink (SmtpMailer tests)"
trap 'bash scripts/smtp.sh stop; bash scripts/nats.sh stop; bash scripts/postgres.sh stop' EXIT
smtp_env=$(bash scripts/smtp.sh start)
eval "$smtp_env"
: "${SALESIQ_SMTP_ADDR:?}" "${SALESIQ_SMTP_DIR:?}"

cargo test --workspace "$@"
