"""
A "starting soon" blast: 100,000 emails for one webinar, sent by the dispatch workers one machine
runs, against a fake Postmark answering after 50 ms.

The reminders are queued as the 15-minute job plans them (one session 15 minutes from now, one row
per recipient with the planner's context), with a backlog of bulk emails already due in front of
them (payment reminders planned earlier), as on a busy morning. Then:

- one worker sends for a fixed time: its rate, our CPU per message;
- every worker of the machine (2 here) sends the blast until it is out, or until the time limit
  (then the time to send it all is projected from the rate, and marked so).

Each setup of the dispatcher (the setting overrides in SETUPS) is measured in the same run, so
the figures compare within a run.
"""

import datetime as dt
import json
import sys
from collections import deque
from dataclasses import dataclass

import psycopg

from tests.fakes import FakeProvider, postmark_ok

from . import processes
from .database import app_env
from .ledger import table_bytes
from .planning import empty_ledger
from .sizes import Size

BLAST = 100_000
BACKLOG = 10_000  # bulk emails due before the blast was planned
ONE_WORKER_SECONDS = 20.0
# The dispatcher's setups, each measured in the same run: the current defaults, and the dispatcher as it
# was before issue 16 (ten emails a request, one request at a time, claims of 100, every kind in due
# order), to compare. Each: the workers' setting overrides, whether urgent kinds go first, and how long
# two workers send at most (None: the run's limit). The old dispatcher's rate is steady within
# seconds, and it would take six minutes to send the blast: its time is projected from 30 s.
SETUPS = {
    "current settings": ({}, True, None),
    "before issue 16": (
        {
            "NOTIFICATIONS_EMAILS_PER_REQUEST": "10",
            "NOTIFICATIONS_DISPATCH_CONCURRENCY": "email=1,whatsapp=1",
            "NOTIFICATIONS_DISPATCH_BATCH_SIZE": "100",
        },
        False,
        30.0,
    ),
}


@dataclass
class BlastRow:
    setup: str
    workers: int
    queued: int  # "starting soon" emails
    sent: int  # of them, sent
    all_sent: int  # with the bulk emails sent too
    seconds: float  # the workers' sending time
    blast_seconds: float  # from the start to the last "starting soon" email sent (projected when not all were)
    cpu_seconds: float  # the workers' CPU time while sending
    finished: bool  # the whole blast went out before the time limit
    urgent_before_bulk: bool | None = None  # no bulk email went out before the blast's tail (None: not known)
    blast_after_bulk: int = 0  # blast emails sent after the first bulk one (the other workers' last claims)
    bytes_per_sent_row: float = 0.0  # ledger bytes per row once sent (rendered text kept)
    note: str = ""

    @property
    def per_second(self) -> float:
        """Messages of any kind sent per second."""
        return self.all_sent / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_message(self) -> float:
        return 1000 * self.cpu_seconds / self.all_sent if self.all_sent else float("nan")


class QuietProvider(FakeProvider):
    """The tests' fake Postmark, remembering only the last requests (a blast would fill the memory)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.requests = deque(maxlen=100)

    def keep(self, recorded, reply):
        return []


BLAST_SESSION = """
    INSERT INTO lms_livesession (course_id, title, scheduled_at, duration_minutes, meeting_url, is_cancelled, sequence)
    VALUES (1, 'Webinar: Ask Me Anything', %(at)s, 60, 'https://meet.example.com/webinar', false, 0)
    RETURNING id
"""
# As the 15-minute job plans them: the session's event and its shared context once, expiring at the
# start, and a row per attendee (people of their own, each by address, so their names are on the rows).
QUEUE_BLAST = """
    WITH event AS (
        INSERT INTO notifications_messageevent (kind, key, subject_type, subject_id, created_at)
        SELECT 'session_15min', 'session_15min:' || s.id || '@'
               || to_char(s.scheduled_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS'), 'lms.livesession', s.id, %(now)s
        FROM lms_livesession s WHERE s.id = %(session)s
        RETURNING id
    ), shared AS (
        INSERT INTO notifications_messagegroup (event_id, digest, context, expires_at, created_at)
        SELECT event.id, 'blast', jsonb_build_object('title', s.title, 'course_title', 'Course 1',
                   'join_url', s.meeting_url,
                   'scheduled_at', to_char(s.scheduled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00',
                   'minutes_left', 15, 'when', %(when)s::text, 'day_label', 'Today', 'day_phrase', 'today'),
               s.scheduled_at, %(now)s
        FROM event, lms_livesession s WHERE s.id = %(session)s
        RETURNING id, event_id
    )
    INSERT INTO notifications_delivery (event_id, group_id, channel, to_address, own_context, status, attempts,
        next_attempt_at, created_at, is_test, priority)
    SELECT shared.event_id, shared.id, 'email', 'blast' || n || '@example.com',
           jsonb_build_object('name', 'Asha Verma', 'first_name', 'Asha'), 'pending', 0, %(now)s, %(now)s, false,
           %(urgent)s
    FROM shared CROSS JOIN generate_series(1, %(count)s) n
"""
# Payment reminders planned earlier and due already: bulk work in the queue ahead of the blast (an
# event per payment, each row holding its whole context, as the payment job plans them).
QUEUE_BACKLOG = """
    WITH payments AS (
        SELECT p.id, p.student_id, p.description FROM lms_payment p
        WHERE p.status = 'pending' ORDER BY p.id LIMIT %(count)s
    ), events AS (
        INSERT INTO notifications_messageevent (kind, key, subject_type, subject_id, created_at)
        SELECT 'payment_reminder', 'payment_reminder:' || id || ':bench', 'lms.payment', id, %(due)s FROM payments
        RETURNING id, subject_id
    )
    INSERT INTO notifications_delivery (event_id, recipient_id, channel, to_address, own_context, status, attempts,
        next_attempt_at, created_at, is_test, priority)
    SELECT e.id, p.student_id, 'email', 'backlog' || p.id || '@example.com',
           jsonb_build_object('amount', '₹4,999', 'description', p.description,
               'payment_url', 'https://pay.example.com/' || p.id),
           'pending', 0, %(due)s, %(due)s, false, %(bulk)s
    FROM payments p JOIN events e ON e.subject_id = p.id
"""


def queue_blast(
    conn: psycopg.Connection, *, size: Size, now: dt.datetime, count: int, backlog: int, urgent_first: bool = True
) -> int:
    """Empty the ledger, queue `backlog` bulk emails due a minute ago and `count` "Starting Soon" emails for a
    session 15 minutes from the real time; return how many bulk emails were queued."""
    from common.formatting import format_when
    from notifications.kinds import get_kind
    from notifications.services.planning import priority_for

    empty_ledger(conn, size=size, now=now)
    real_now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    at = real_now + dt.timedelta(minutes=15)
    with conn.transaction():
        session = conn.execute(BLAST_SESSION, {"at": at}).fetchone()[0]
        conn.execute(
            QUEUE_BLAST,
            {
                "when": format_when(at, tz="Asia/Kolkata", locale="en_IN"),
                "now": real_now,
                "count": count,
                "session": session,
                "urgent": priority_for(get_kind("session_15min")) if urgent_first else 2,
            },
        )
        queued_backlog = conn.execute(
            QUEUE_BACKLOG,
            {
                "due": real_now - dt.timedelta(minutes=1),
                "count": backlog,
                "bulk": priority_for(get_kind("payment_reminder")) if urgent_first else 2,
            },
        ).rowcount
    conn.execute("ANALYZE notifications_delivery")
    return queued_backlog


def run_blast(
    conn: psycopg.Connection, *, url: str, size: Size, now: dt.datetime, latency: float, count: int, seconds: float
) -> list[BlastRow]:
    """Measure the blast with one worker, then with two, under each setup of SETUPS."""
    rows = []
    with QuietProvider(default=postmark_ok, latency=latency) as provider:
        provider.server.RequestHandlerClass.protocol_version = "HTTP/1.1"
        provider.server.RequestHandlerClass.disable_nagle_algorithm = True
        for setup, (overrides, urgent_first, longest) in SETUPS.items():
            env = app_env(
                url,
                EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
                POSTMARK_SERVER_TOKEN="bench",
                POSTMARK_API_URL=provider.url + "/",
                LOG_LEVEL="WARNING",
                **overrides,
            )
            for workers, limit in ((1, ONE_WORKER_SECONDS), (2, min(seconds, longest or seconds))):
                backlog = queue_blast(conn, size=size, now=now, count=count, backlog=BACKLOG, urgent_first=urgent_first)
                rows.append(
                    _send(conn, env=env, setup=setup, workers=workers, count=count, backlog=backlog, limit=limit)
                )
    return rows


def _send(conn, *, env: dict, setup: str, workers: int, count: int, backlog: int, limit: float) -> BlastRow:
    started = [
        processes.start([sys.executable, "-m", "bench.dispatch_worker", str(limit)], env=env, talk=True)
        for _ in range(workers)
    ]
    for process in started:
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("A dispatch worker did not start: " + processes.finish(process).stderr[-2000:])
    for process in started:
        process.stdin.write("go\n")
        process.stdin.flush()
    results = [processes.finish(process) for process in started]
    reports = [json.loads(result.stdout.strip().splitlines()[-1]) for result in results if result.ok]
    if len(reports) != workers:
        failed = next(result for result in results if not result.ok)
        raise RuntimeError(f"A dispatch worker failed: {failed.stderr[-2000:]}")
    began = min(report["started"] for report in reports)
    elapsed = max(report["finished"] for report in reports) - began
    sent, last_blast, first_bulk, all_sent = conn.execute(
        """SELECT count(*) FILTER (WHERE e.kind = 'session_15min'),
                  max(d.sent_at) FILTER (WHERE e.kind = 'session_15min'),
                  min(d.sent_at) FILTER (WHERE e.kind <> 'session_15min'),
                  count(*)
           FROM notifications_delivery d JOIN notifications_messageevent e ON e.id = d.event_id
           WHERE d.status = 'sent'"""
    ).fetchone()
    after_bulk = (
        conn.execute(
            """SELECT count(*) FROM notifications_delivery d JOIN notifications_messageevent e ON e.id = d.event_id
           WHERE d.status = 'sent' AND e.kind = 'session_15min' AND d.sent_at > %s""",
            [first_bulk],
        ).fetchone()[0]
        if first_bulk
        else 0
    )
    # Workers claim in turn: once the blast is all claimed, a worker takes bulk emails while the others
    # still send their last claims of the blast. More than those claims after the first bulk email
    # means bulk was claimed before urgent work.
    tail = workers * int(env.get("NOTIFICATIONS_DISPATCH_BATCH_SIZE") or 500)
    finished = sent == count
    rate = all_sent / elapsed if elapsed else 0.0
    if finished:
        blast_seconds = last_blast.timestamp() - began
    else:  # the rest at the rate so far
        blast_seconds = elapsed + (count - sent) / rate if rate else float("inf")
    urgent_first = None
    if last_blast is not None and first_bulk is not None:
        urgent_first = after_bulk <= tail if finished else None
    elif last_blast is not None and finished:
        urgent_first = True
    total, _, _ = table_bytes(conn, ("notifications_delivery",))
    rows = conn.execute("SELECT count(*) FROM notifications_delivery").fetchone()[0]
    return BlastRow(
        setup=setup,
        workers=workers,
        queued=count,
        sent=sent,
        all_sent=all_sent,
        seconds=elapsed,
        blast_seconds=blast_seconds,
        cpu_seconds=sum(report["cpu_seconds"] for report in reports),
        finished=finished,
        urgent_before_bulk=urgent_first,
        blast_after_bulk=after_bulk,
        bytes_per_sent_row=total / rows if rows else 0.0,
        note=f"{backlog:,} bulk emails due in front, {all_sent - sent:,} of them sent",
    )
