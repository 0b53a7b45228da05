"""A test SMTP sink (scripts/smtp.sh runs it): every message it is given
is written into a directory, and nothing is ever sent on.

    python3 scripts/smtp-sink.py PORT DIR

Listens on 127.0.0.1:PORT (aiosmtpd, plain SMTP: no STARTTLS, no AUTH,
SMTPUTF8 on). For each message, NAME = <nanoseconds>-<counter>:

  DIR/NAME.json  the envelope and the message as Python's email package
                 reads it: {"mail_from", "rcpt_tos", "headers": [[name,
                 decoded value], ...], "body": decoded text/plain body}
  DIR/NAME.eml   the message exactly as it came (CRLF line ends)

Recipients whose local part starts with `refused` are refused for good
(550) and those starting with `later` for now (451), so that tests see
both kinds of refusal; every other recipient is taken.

The .json is written first, each file under a temporary name then
renamed, and both before the server answers 250: when a client's send
returns, its message is complete on disk, and a reader that sees the .eml
sees whole files. Stops on SIGTERM or SIGINT.
"""

import email
import email.policy
import json
import os
import signal
import sys
import threading
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        self.lock = threading.Lock()

    def write(self, name, data):
        path = os.path.join(self.directory, name)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("refused"):
            return "550 5.1.1 no such user (the sink refuses refused*@)"
        if local.startswith("later"):
            return "451 4.3.0 try again later (the sink defers later*@)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        try:
            body = "" if message.is_multipart() else message.get_content()
        except (LookupError, ValueError) as error:
            body = f"<undecodable body: {error}>"
        with self.lock:
            self.count += 1
            name = f"{time.time_ns()}-{self.count:06d}"
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "headers": [[key, str(value)] for key, value in message.items()],
            "body": body,
        }
        self.write(name + ".json", json.dumps(meta, ensure_ascii=False).encode("utf-8"))
        self.write(name + ".eml", raw)
        return "250 OK: kept as " + name


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    controller = Controller(
        Sink(directory),
        hostname="127.0.0.1",
        port=port,
        enable_SMTPUTF8=True,
        # Big enough for the largest Mail (1 MiB of body, encoded).
        data_size_limit=8 * 1024 * 1024,
    )
    controller.start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"listening on 127.0.0.1:{port}, writing to {directory}", flush=True)
    while not stop.wait(0.5):
        pass
    controller.stop()


if __name__ == "__main__":
    main()
