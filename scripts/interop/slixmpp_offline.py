"""Logs in with slixmpp after messages were kept for the operator (XEP-0160)
and prints them with their XEP-0203 delay stamps, against a server the caller
started: crates/salesiq-xmpp/tests/slixmpp_mam.rs.

    python3 scripts/interop/slixmpp_offline.py PORT JID PASSWORD COUNT

Prints "from<TAB>stamp<TAB>body" for each of the first COUNT messages with a
body, then "DONE". The certificate is not checked: it is the test server's
self-signed one.
"""
import asyncio, ssl, sys
import slixmpp

PORT, JID, PW, COUNT = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])


class Op(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__(f"{JID}/slixmpp", PW, sasl_mech="PLAIN")
        self.enable_direct_tls = False
        self.enable_starttls = True
        self.ssl_context = ssl.create_default_context()
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.register_plugin("xep_0203")
        self.inbox = asyncio.Queue()
        self.add_event_handler("session_start", lambda _: self.send_presence())
        self.add_event_handler("message", self.on_message)

    def on_message(self, msg):
        if msg["body"]:
            self.inbox.put_nowait(msg)


async def main():
    op = Op()
    op.connect("127.0.0.1", PORT)
    for _ in range(COUNT):
        msg = await asyncio.wait_for(op.inbox.get(), 20)
        stamp = msg["delay"]["stamp"]
        stamp = stamp.isoformat() if stamp else "-"
        print(f"{msg['from']}\t{stamp}\t{msg['body']}", flush=True)
    op.disconnect()
    print("DONE", flush=True)


asyncio.run(asyncio.wait_for(main(), 60))
