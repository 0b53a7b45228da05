"""Every device sees every chat, with a second client library (slixmpp 1.17):
desk + phone + roster re-fetch + reconnect without resumption, the board's
presence, and a line to an ended chat, against the example server with its
demo configuration; the visitor on the WebSocket API.

    pip install slixmpp websockets
    cargo run --release --example minimal_server     # in a fresh directory
    python3 scripts/interop/slixmpp_devices.py       # prints ALL OK

The suite covers the same with tokio-xmpp (crates/salesiq-xmpp/tests/devices.rs).
The certificate is not checked here: it is the example's self-signed one.
"""
import asyncio, json, ssl, sys
import slixmpp, websockets

JID = "demo|bob.ops@salesiq.zoho.com"
PW = "bob-demo-pw"
V = "demo|visitor-1@salesiq.zoho.com"

class Op(slixmpp.ClientXMPP):
    def __init__(self, resource):
        super().__init__(f"{JID}/{resource}", PW, sasl_mech="PLAIN")
        self.enable_direct_tls = False
        self.enable_starttls = True
        self.ssl_context = ssl.create_default_context()
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.inbox = asyncio.Queue()
        self.errors = []
        self.online = asyncio.Event()
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("message_error", lambda m: self.errors.append(str(m)))
    async def start(self, _):
        self.send_presence()
        await self.get_roster()
        self.online.set()
    def on_message(self, msg):
        if msg["type"] == "error":
            self.errors.append(str(msg))
        elif msg["body"]:
            self.inbox.put_nowait((str(msg["from"]), msg["body"]))
    async def wait_for(self, text):
        while True:
            frm, body = await asyncio.wait_for(self.inbox.get(), 20)
            if text in body:
                return frm, body

async def connect(resource):
    op = Op(resource)
    op.connect("127.0.0.1", 6222)
    await asyncio.wait_for(op.online.wait(), 20)
    return op

async def frame(ws, kind):
    while True:
        f = json.loads(await asyncio.wait_for(ws.recv(), 20))
        if f["type"] == kind:
            return f

async def main():
    desk = await connect("desk")
    async with websockets.connect("ws://127.0.0.1:8080/ws/visitor?portal=demo") as ws:
        await ws.send(json.dumps({"type": "start", "name": "Ann", "question": "Refund?"}))
        frm, body = await desk.wait_for("Reply y")
        print("desk offered from", frm)
        desk.send_message(mto=V, mbody="y", mtype="chat")
        await frame(ws, "joined")
        phone = await connect("phone")
        roster = [str(j) for j in phone.client_roster]
        print("phone roster:", roster)
        assert V in roster, roster
        phone.send_message(mto=V, mbody="from phone", mtype="chat")
        f = await frame(ws, "message"); print("visitor got:", f); assert f["text"] == "from phone"
        await ws.send(json.dumps({"type": "message", "text": "thanks"}))
        for dev in (desk, phone):
            frm, body = await dev.wait_for("thanks"); print(dev.boundjid.resource, "got", body, "from", frm)
            assert frm == V + "/visitor"
        await desk.get_roster()
        assert V in [str(j) for j in desk.client_roster]
        desk.send_message(mto=V, mbody="after refetch", mtype="chat")
        f = await frame(ws, "message"); assert f["text"] == "after refetch"; print("visitor got:", f["text"])
        phone.disconnect(); await asyncio.sleep(0.5)
        phone2 = await connect("phone")
        assert V in [str(j) for j in phone2.client_roster]
        phone2.send_message(mto=V, mbody="reconnected", mtype="chat")
        f = await frame(ws, "message"); assert f["text"] == "reconnected"; print("visitor got:", f["text"])
        # board
        board = "demo|board@salesiq.zoho.com"
        assert board in [str(j) for j in phone2.client_roster]
        pres = phone2.client_roster.presence(board)
        print("board presence:", dict(pres))
        assert pres, "the board is online"
        # hostile: text to an ended chat
        desk.send_message(mto=V, mbody="#e", mtype="chat")
        await frame(ws, "ended")
        await desk.wait_for("Chat ended")
        desk.send_message(mto=V, mbody="hello?", mtype="chat")
        await asyncio.sleep(1)
        print("desk errors:", desk.errors)
        assert any("this chat has ended" in e for e in desk.errors)
        for op in (desk, phone2):
            op.disconnect()
    print("ALL OK")

asyncio.run(main())
