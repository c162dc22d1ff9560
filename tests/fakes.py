"""
A local fake provider: a real HTTP server on 127.0.0.1 that records requests and answers
with scripted responses. Tests point anymail (`POSTMARK_API_URL`) and Twilio
(`TWILIO_API_BASE_URL`) at it, so the real client code and wire format are exercised.

Like the real providers it remembers what it accepted (even when its answer never reaches the
client) and answers the searches reconciliation makes: Postmark's outbound message search
(`GET /messages/outbound?count=&offset=&metadata_<key>=&recipient=`) and Twilio's message list
(`GET /2010-04-01/Accounts/<sid>/Messages.json?To=&DateSent>=`).
"""

import datetime as dt
import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: dict | list | None = None
    delay: float = 0.0  # seconds to wait before answering (after reading the request)
    headers: dict = field(default_factory=dict)
    # Faults: `drop` accepts the request (the provider keeps the message) and closes the connection
    # without an answer; `reset` resets the connection before accepting anything.
    drop: bool = False
    reset: bool = False
    # Keep (accept) the messages only once `delay` has passed, as a provider slow to take a batch does
    # (by default they are kept when the request arrives).
    accept_at_end: bool = False


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    raw: bytes
    arrived: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def json(self):
        return json.loads(self.raw)

    def form(self) -> dict:
        return {key: values[0] for key, values in parse_qs(self.raw.decode()).items()}

    def query(self) -> dict:
        return {key: values[0] for key, values in parse_qs(urlsplit(self.path).query).items()}


class FakeProvider:
    """Answers scripted replies in order, then `default`; records every request.

    `on_accept(kept)` is called for each message the provider keeps, before it answers (a status
    callback that overtakes the answer).
    """

    def __init__(self, default=None, latency: float = 0.0, on_accept: Callable[[dict], None] | None = None):
        self.requests: list[Recorded] = []  # sends (POST)
        self.searches: list[Recorded] = []  # reconciliation's questions (GET)
        self.replies: deque[Reply] = deque()
        self.default = default  # callable(Recorded) -> Reply
        self.latency = latency
        self.on_accept = on_accept
        self.emails: list[dict] = []  # what Postmark accepted, as its message search shows it
        self.messages: list[dict] = []  # what Twilio accepted, as its message list shows it
        self.kept_at: dict[str, dt.datetime] = {}  # when each Twilio message was accepted (to the microsecond)
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

    def keep(self, recorded: Recorded, reply: Reply) -> list[dict]:
        """Remember what an accepting reply accepted; return the kept messages."""
        if not 200 <= reply.status < 300:
            return []
        path = urlsplit(recorded.path).path
        now = dt.datetime.now(dt.UTC)
        kept = []
        if path in ("/email", "/email/batch"):
            sent = recorded.json()
            messages = sent if isinstance(sent, list) else [sent]
            results = reply.body if isinstance(reply.body, list) else [reply.body or {}]
            if len(results) != len(messages):
                results = [{}] * len(messages)  # an answer that never comes, or a garbled one
            for n, (message, result) in enumerate(zip(messages, results, strict=True)):
                if result.get("ErrorCode", 0):
                    continue
                to = [address.strip() for address in str(message.get("To", "")).split(",") if address.strip()]
                kept.append(
                    {
                        "MessageID": result.get("MessageID") or f"pm-kept-{n}-{time.monotonic_ns()}",
                        "To": [{"Email": address, "Name": None} for address in to],
                        "Recipients": to,
                        "From": message.get("From"),
                        "Subject": message.get("Subject"),
                        "Tag": message.get("Tag", ""),
                        "Metadata": message.get("Metadata", {}),
                        "ReceivedAt": now.isoformat(),
                        "Status": "Sent",
                        "MessageStream": "outbound",
                    }
                )
            with self._lock:
                self.emails.extend(kept)
        elif path.endswith("/Messages.json"):
            form, body = recorded.form(), reply.body if isinstance(reply.body, dict) else {}
            stamp = format_datetime(now.replace(microsecond=0))
            kept.append(
                {
                    "sid": body.get("sid") or f"SM{time.monotonic_ns():032x}"[:34],
                    "to": form.get("To"),
                    "from": form.get("From"),
                    "status": body.get("status") or "queued",
                    "date_created": stamp,
                    "date_updated": stamp,
                    "date_sent": stamp,
                    "error_code": body.get("error_code"),
                    "error_message": body.get("error_message"),
                    "body": form.get("Body") or _filled_in(form),
                    "direction": "outbound-api",
                    "status_callback": form.get("StatusCallback"),
                }
            )
            with self._lock:
                self.messages.extend(kept)
                self.kept_at.update({message["sid"]: now for message in kept})
        for message in kept:
            if self.on_accept:
                self.on_accept(message)
        return kept

    def search(self, recorded: Recorded) -> Reply:
        """Answer Postmark's outbound message search or Twilio's message list from what was kept."""
        path, query = urlsplit(recorded.path).path, recorded.query()
        if path == "/messages/outbound":
            if "count" not in query or "offset" not in query:
                return Reply(422, {"ErrorCode": 1, "Message": "The 'count' and 'offset' parameters are required."})
            with self._lock:
                found = [
                    message
                    for message in reversed(self.emails)
                    if all(
                        str(message["Metadata"].get(key.removeprefix("metadata_"))) == value
                        for key, value in query.items()
                        if key.startswith("metadata_")
                    )
                    and query.get("recipient", "").lower() in ("", *map(str.lower, message["Recipients"]))
                ]
            offset, count = int(query["offset"]), int(query["count"])
            return Reply(200, {"TotalCount": len(found), "Messages": found[offset : offset + count]})
        if path.endswith("/Messages.json"):
            after, before = _day(query.get("DateSent>")), _day(query.get("DateSent<"))
            with self._lock:
                found = [
                    message
                    for message in reversed(self.messages)
                    if ("To" not in query or message["to"] == query["To"])
                    and (after is None or parsedate_to_datetime(message["date_sent"]).date() >= after)
                    and (before is None or parsedate_to_datetime(message["date_sent"]).date() <= before)
                ]
            size = int(query.get("PageSize", 50))
            return Reply(
                200,
                {
                    "messages": found[:size],
                    "end": max(0, min(size, len(found)) - 1),
                    "first_page_uri": path,
                    "next_page_uri": None,
                    "page": 0,
                    "page_size": size,
                    "previous_page_uri": None,
                    "start": 0,
                    "uri": path,
                },
            )
        return Reply(404, {"message": "not found"})

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                recorded = Recorded(self.command, self.path, dict(self.headers), b"")
                with provider._lock:
                    provider.searches.append(recorded)
                self._answer(provider.search(recorded))

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorded = Recorded(self.command, self.path, dict(self.headers), raw)
                with provider._lock:
                    provider.requests.append(recorded)
                    reply = provider.replies.popleft() if provider.replies else None
                if reply is None:
                    reply = provider.default(recorded) if provider.default else Reply()
                if reply.reset:
                    # RST: the client sees "connection reset"; nothing was accepted.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                if not reply.accept_at_end:
                    provider.keep(recorded, reply)
                if provider.latency or reply.delay:
                    time.sleep(provider.latency + reply.delay)
                if reply.accept_at_end:
                    provider.keep(recorded, reply)
                if reply.drop:
                    self.close_connection = True  # accepted, and the answer is lost
                    return
                self._answer(reply)

            def _answer(self, reply: Reply):
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

        return Handler


def _filled_in(form: dict) -> str | None:
    """The text Twilio shows of a template message: the template filled in with its variables
    (here a stand-in for the template's own words, with each variable in its place)."""
    if not form.get("ContentSid"):
        return None
    variables = json.loads(form.get("ContentVariables") or "{}")
    return f"Template {form['ContentSid']}: " + " | ".join(
        str(variables[key]) for key in sorted(variables, key=lambda k: (len(k), k))
    )


def _day(value: str | None) -> dt.date | None:
    """Twilio's DateSent filters compare dates (YYYY-MM-DD; a time, when given, is ignored)."""
    return dt.date.fromisoformat(value[:10]) if value else None


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
