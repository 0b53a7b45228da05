#!/usr/bin/env python3
"""Checks the reference servers started by benches/peers/peers.sh with a real
XMPP client library (slixmpp).

Usage (from the repository root, after `benches/peers/peers.sh start N`):

    python3 -m venv target/peers/venv
    target/peers/venv/bin/pip install slixmpp
    target/peers/venv/bin/python benches/peers/check.py --users N

For each server (prosody on 15222/15223, ejabberd on 25222/25223), each port
(STARTTLS, direct TLS), each of u0 and u{N-1} and each SASL mechanism
(SCRAM-SHA-1, PLAIN): log in with password load-pw, bind, fetch the roster,
log out. Then, per server and port, u0 sends one message to u1, which must
receive it. The server certificate is verified against the self-signed
certificate in the state dir (--cafile; --insecure skips verification).
Exits 0 when every check passed.
"""

import argparse
import asyncio
import logging
import os
import ssl
import sys
import time

import slixmpp

DOMAIN = "load.test"
PASSWORD = "load-pw"
SERVERS = [("prosody", 15222, 15223), ("ejabberd", 25222, 25223)]
MECHS = ["SCRAM-SHA-1", "PLAIN"]


class Client(slixmpp.ClientXMPP):
    """One session; `ready` resolves when the session has started."""

    def __init__(self, user, direct_tls, mech, ssl_context):
        super().__init__(f"{user}@{DOMAIN}/check", PASSWORD, sasl_mech=mech)
        self.enable_direct_tls = direct_tls
        self.enable_starttls = not direct_tls
        self.enable_plaintext = False
        self.ssl_context = ssl_context
        self.ready = asyncio.get_event_loop().create_future()
        self.inbox = asyncio.Queue()
        self.add_event_handler("session_start", self._on_start)
        self.add_event_handler("failed_all_auth", self._on_failure)
        self.add_event_handler("connection_failed", self._on_failure)
        self.add_event_handler("message", self.inbox.put_nowait)

    async def _on_start(self, _event):
        # Available presence, then a roster round trip: the server has handled
        # the presence before the roster result arrives.
        self.send_presence()
        await self.get_roster(timeout=10)
        if not self.ready.done():
            self.ready.set_result(None)

    def _on_failure(self, event):
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(f"failed: {event}"))

    def tls_version(self):
        sslobj = self.transport.get_extra_info("ssl_object") if self.transport else None
        return sslobj.version() if sslobj else "none"

    def mech_name(self):
        mech = self.plugin["feature_mechanisms"].mech
        return mech.name if mech else "?"


async def session(user, port, direct_tls, mech, ssl_context, timeout):
    client = Client(user, direct_tls, mech, ssl_context)
    client.connect("127.0.0.1", port)
    try:
        await asyncio.wait_for(client.ready, timeout)
    except BaseException:
        client.abort()
        raise
    return client


async def close(client, timeout):
    try:
        await asyncio.wait_for(client.disconnect(), timeout)
    except (asyncio.TimeoutError, slixmpp.xmlstream.xmlstream.NotConnectedError):
        client.abort()


async def check_login(user, port, direct_tls, mech, ctx, timeout):
    client = await session(user, port, direct_tls, mech, ctx, timeout)
    detail = f"sasl={client.mech_name()} tls={client.tls_version()}"
    if client.mech_name() != mech:
        await close(client, timeout)
        raise RuntimeError(f"negotiated {client.mech_name()} instead of {mech}")
    await close(client, timeout)
    return detail


async def check_message(port, direct_tls, ctx, timeout):
    receiver = await session("u1", port, direct_tls, None, ctx, timeout)
    sender = await session("u0", port, direct_tls, None, ctx, timeout)
    try:
        body = f"hello u1 from u0 {time.time():.6f}"
        sender.send_message(mto=f"u1@{DOMAIN}", mbody=body, mtype="chat")
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            msg = await asyncio.wait_for(receiver.inbox.get(), max(left, 0.01))
            if msg["body"] == body:
                if msg["from"].bare != f"u0@{DOMAIN}":
                    raise RuntimeError(f"message from {msg['from']}")
                return "u0 -> u1 delivered"
    finally:
        await close(sender, timeout)
        await close(receiver, timeout)


async def run(args):
    if args.insecure:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=args.cafile)
    last = f"u{args.users - 1}"
    failures = 0
    for server, starttls_port, direct_port in SERVERS:
        for port, direct_tls in ((starttls_port, False), (direct_port, True)):
            kind = "direct-tls" if direct_tls else "starttls"
            checks = [
                (f"login {user} {mech}", check_login(user, port, direct_tls, mech, ctx, args.timeout))
                for user in ("u0", last)
                for mech in MECHS
            ]
            checks.append(("message", check_message(port, direct_tls, ctx, args.timeout)))
            for name, coro in checks:
                start = time.monotonic()
                try:
                    detail = await coro
                    status = "ok  "
                except Exception as exc:  # report every failure, keep going
                    detail = f"{type(exc).__name__}: {exc}"
                    status = "FAIL"
                    failures += 1
                took = time.monotonic() - start
                print(f"{status} {server:8} {kind:10} {port}  {name:24} {took:6.3f}s  {detail}",
                      flush=True)
    return failures


def main():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    state = os.environ.get("PEERS_DIR", os.path.join(repo, "target", "peers"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, required=True, help="N given to peers.sh start")
    parser.add_argument("--cafile", default=os.path.join(state, "cert", f"{DOMAIN}.crt"))
    parser.add_argument("--insecure", action="store_true", help="skip certificate verification")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per step")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    if args.users < 2:
        parser.error("--users must be at least 2 (u0 sends to u1)")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.CRITICAL)
    failures = asyncio.run(run(args))
    print("all checks passed" if failures == 0 else f"{failures} check(s) failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
