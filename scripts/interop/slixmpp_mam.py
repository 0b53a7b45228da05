"""Reads an operator's message archive (XEP-0313) with slixmpp's xep_0313,
against a server the caller started: crates/salesiq-xmpp/tests/slixmpp_mam.rs.

    python3 scripts/interop/slixmpp_mam.py PORT JID PASSWORD WITH

Prints one line per archived message, "in|out<TAB>body", oldest first, then
"ITERATED n" for a paged read (max 2), then "DONE". The certificate is not
checked: it is the test server's self-signed one.
"""
import asyncio, ssl, sys
import slixmpp

PORT, JID, PW, WITH = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


class Op(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__(f"{JID}/slixmpp", PW, sasl_mech="PLAIN")
        self.enable_direct_tls = False
        self.enable_starttls = True
        self.ssl_context = ssl.create_default_context()
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0059")
        self.register_plugin("xep_0313")
        self.online = asyncio.Event()
        self.add_event_handler("session_start", self.start)

    async def start(self, _):
        self.send_presence()
        self.online.set()


async def main():
    op = Op()
    op.connect("127.0.0.1", PORT)
    await asyncio.wait_for(op.online.wait(), 20)
    bare = JID.split("/")[0]
    info = await op["xep_0030"].get_info(jid=bare, timeout=20)
    if "urn:xmpp:mam:2" not in info["disco_info"]["features"]:
        print("NO MAM FEATURE", flush=True)
    mam = op.plugin["xep_0313"]
    result = await mam.retrieve(jid=bare, with_jid=slixmpp.JID(WITH), timeout=20)
    for message in result["mam"]["results"]:
        forwarded = message["mam_result"]["forwarded"]
        inner = forwarded["stanza"]
        direction = "out" if str(inner["from"].bare) == bare else "in"
        print(f"{direction}\t{inner['body']}", flush=True)
    iterated = 0
    async for _ in mam.iterate(jid=bare, with_jid=slixmpp.JID(WITH), rsm={"max": 2}):
        iterated += 1
        if iterated > 100:
            break
    print(f"ITERATED {iterated}", flush=True)
    op.disconnect()
    print("DONE", flush=True)


asyncio.run(asyncio.wait_for(main(), 60))
