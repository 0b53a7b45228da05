#!/usr/bin/env bash
# What `cargo run --release --example minimal_server` compiles on a fresh
# clone: the number of build units (at most 185, issue 12), no test-only
# package, and not the optional Zoho HTTP stack (reqwest). Uses cargo's unstable --unit-graph (RUSTC_BOOTSTRAP).
set -euo pipefail
cd "$(dirname "$0")/.."
max=${MAX_UNITS:-185}
RUSTC_BOOTSTRAP=1 cargo build --release --example minimal_server \
    --unit-graph -Z unstable-options 2>/dev/null | python3 -c '
import json, sys
max_units = int(sys.argv[1])
units = json.load(sys.stdin)["units"]
not_in_first_run = ("fantoccini", "webdriver", "tokio-xmpp", "xmpp-parsers", "wiremock",
             "salesiq-test-support", "salesiq-e2e", "reqwest")
found = sorted({u["pkg_id"] for u in units if any("#" + name + "@" in u["pkg_id"] or "/" + name + "#" in u["pkg_id"] for name in not_in_first_run)})
print(f"{len(units)} build units (at most {max_units})")
if found:
    sys.exit("packages the first run must not compile: " + ", ".join(found))
if len(units) > max_units:
    sys.exit(f"the first run compiles {len(units)} units, more than {max_units}")
' "$max"
