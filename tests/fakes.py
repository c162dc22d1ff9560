"""
A local fake provider: a real HTTP server on 127.0.0.1 that records requests and answers
with scripted responses. Tests point anymail (`POSTMARK_API_URL`) and Twilio
(`TWILIO_API_BASE_URL`) at it, so the real client code and wire format are exercised.
"""

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class Reply:
    status: int = 200
    body: dict | list | None = None
    delay: float = 0.0  # seconds to wait before answering (after reading the request)
    headers: dict = field(default_factory=dict)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    raw: bytes

    def json(self):
        return json.loads(self.raw)

    def form(self) -> dict:
        return {key: values[0] for key, values in parse_qs(self.raw.decode()).items()}


class FakeProvider:
    """Answers scripted replies in order, then `default`; records every request."""

    def __init__(self, default=None, latency: float = 0.0):
        self.requests: list[Recorded] = []
        self.replies: deque[Reply] = deque()
        self.default = default  # callable(Recorded) -> Reply
        self.latency = latency
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address
        return f"http://{host}:{port}"

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorded = Recorded(self.command, self.path, dict(self.headers), raw)
                with provider._lock:
                    provider.requests.append(recorded)
                    reply = provider.replies.popleft() if provider.replies else None
                if reply is None:
                    reply = provider.default(recorded) if provider.default else Reply()
                if provider.latency or reply.delay:
                    time.sleep(provider.latency + reply.delay)
                payload = json.dumps(reply.body if reply.body is not None else {}).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST

        return Handler


def postmark_ok(recorded: Recorded) -> Reply:
    """Postmark's answer to a good /email request, and to /email/batch: one result per message, in order."""
    body = recorded.json()
    if isinstance(body, list):
        return Reply(200, [postmark_accepted(message, f"pm-batch-{n}") for n, message in enumerate(body)])
    return Reply(200, postmark_accepted(body, f"pm-{len(recorded.raw)}"))


def postmark_accepted(message: dict, prefix: str) -> dict:
    """Postmark's result for one message it accepted."""
    return {
        "To": message.get("To"),
        "SubmittedAt": "2026-11-24T10:00:00Z",
        "MessageID": f"{prefix}-{time.monotonic_ns()}",
        "ErrorCode": 0,
        "Message": "OK",
    }


def twilio_ok(recorded: Recorded) -> Reply:
    """Twilio's answer to a good Messages.json request."""
    form = recorded.form()
    return Reply(
        201,
        {
            "sid": f"SM{time.monotonic_ns():032x}"[:34],
            "status": "queued",
            "to": form.get("To"),
            "from": form.get("From"),
            "body": None,
            "error_code": None,
            "error_message": None,
        },
    )


def twilio_error(code: int, status: int = 400, message: str = "error") -> Reply:
    return Reply(status, {"code": code, "message": message, "more_info": "", "status": status})
