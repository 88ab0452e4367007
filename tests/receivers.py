"""Real receivers of alerts on loopback, for the tests: an HTTP webhook (http.server in a thread)
and an SMTP server (aiosmtpd), each started by a test and stopped after it; every wait bounded.

Not a test module: the alert tests import it, as they import tests.helpers.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def wait_for(found, count: int, timeout: float = 10.0) -> list:
    """found (a list something appends to) once it holds count items, or after timeout."""
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


class Webhook:
    """A webhook receiver: ``mode`` "ok" answers 200, "fail" 500, "hang" never answers (until
    the receiver stops); ``received`` holds the JSON bodies posted, in order."""

    def __init__(self):
        self.mode = "ok"
        self.received: list[dict] = []
        self.stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # http.server calls it by this name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.mode == "hang":
                    receiver.stopping.wait(30)
                    return
                receiver.received.append({"body": json.loads(body),
                                          "type": self.headers.get("Content-Type")})
                self.send_response(500 if receiver.mode == "fail" else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/s3cret"

    def events(self) -> list[str]:
        """The events received, in order."""
        return [r["body"]["event"] for r in self.received]


@contextmanager
def webhook():
    """A running Webhook for the block."""
    receiver = Webhook()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.stopping.set()
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(timeout=10)


def closed_port() -> int:
    """A loopback port nothing listens on (a receiver that refuses)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """What an aiosmtpd server received: each message's envelope and text."""

    def __init__(self):
        self.messages: list[dict] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "text": envelope.content.decode("utf-8", "replace"),
                              "auth": getattr(session, "auth_data", None)})
        return "250 OK"


@contextmanager
def smtp_server(**options):
    """An aiosmtpd SMTP server on loopback for the block: (mailbox, port). ``options`` go to
    its Controller (tls_context, require_starttls, authenticator, ...)."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = closed_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, ready_timeout=10,
                            **options)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
