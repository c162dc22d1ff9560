"""
The ledger's cost per row: the app's ledger beside the layout it had before and a lean floor, on the
same recipients, in the same run.

Each makes the "Starts Tomorrow" email and WhatsApp rows of the 24-hour job:

- the app: `notifications_delivery` with its events and shared contexts (`notifications_messageevent`,
  `notifications_messagegroup`), made by the app's own job (its time includes the job's in-app rows);
- before: the ledger as it was before the lean layout (JSON context per row, the text dedupe key, its
  indexes, the recipient's FK trigger) as a bench table, filled by the floor's INSERT ... SELECT;
- a lean layout, made here in tables of the benchmark's own (bench_lean_*): what the recipients of
  a session share (title, course, links) stored once per event, what those of a zone and locale
  share (the time in words) once per group, and a row keeping what is its own: integer composite
  key (event, recipient, channel), small integer status and channel, the address, the times; two
  indexes besides the key (the dispatcher's pending queue, the recipient's timeline).

For each: insert every row (a transaction, committed), insert them again (every row a conflict:
what each planning run after the first pays), and the bytes on disk per row with
pg_total_relation_size (heap, TOAST and indexes) of the tables the layout uses.
"""

import datetime as dt
import time
from dataclasses import dataclass

import psycopg

from . import floor_before as floor
from .planning import empty_ledger
from .sizes import Size

CHANNELS = "(VALUES ('email', 1::smallint), ('whatsapp', 2::smallint)) AS c (channel, code)"
CHANNEL_FILTER = f"""(c.channel = 'email' AND u.email <> '')
    OR (c.channel = 'whatsapp' AND u.whatsapp_opt_in AND u.phone ~ '{floor.E164}')"""

LEAN_TABLES = """
    DROP TABLE IF EXISTS bench_lean_delivery, bench_lean_group, bench_lean_event;
    CREATE TABLE bench_lean_event (
        id bigserial PRIMARY KEY,
        subject_id bigint,
        expires_at timestamptz,
        created_at timestamptz NOT NULL,
        kind text NOT NULL,
        subject_type text NOT NULL,
        event_key text NOT NULL UNIQUE,
        context jsonb NOT NULL
    );
    CREATE TABLE bench_lean_group (
        id bigserial PRIMARY KEY,
        event_id bigint NOT NULL REFERENCES bench_lean_event (id),
        tz text NOT NULL,
        locale text NOT NULL,
        context jsonb NOT NULL,
        UNIQUE (event_id, tz, locale)
    );
    CREATE TABLE bench_lean_delivery (
        event_id bigint NOT NULL,
        recipient_id bigint NOT NULL,
        group_id bigint NOT NULL,
        next_attempt_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        claimed_at timestamptz,
        handed_over_at timestamptz,
        sent_at timestamptz,
        claim_token uuid,
        channel smallint NOT NULL,
        status smallint NOT NULL DEFAULT 0,
        priority smallint NOT NULL,
        attempts smallint NOT NULL DEFAULT 0,
        to_address text NOT NULL,
        provider_message_id text,
        context jsonb,
        PRIMARY KEY (event_id, recipient_id, channel)
    );
    CREATE INDEX bench_lean_due ON bench_lean_delivery (priority, next_attempt_at) WHERE status = 0;
    CREATE INDEX bench_lean_recipient ON bench_lean_delivery (recipient_id, created_at);
"""
LEAN_TABLE_NAMES = ("bench_lean_event", "bench_lean_group", "bench_lean_delivery")
TODAY_TABLE_NAMES = (floor.TODAY_TABLE,)
APP_TABLE_NAMES = ("notifications_delivery", "notifications_messageevent", "notifications_messagegroup")
AGAIN_UNDER_SECONDS = 20.0


@dataclass
class LedgerRow:
    layout: str
    rows: int
    insert_seconds: float
    rerun_seconds: float
    total_bytes: int  # heap + TOAST + indexes of the layout's tables
    heap_bytes: int
    indexes: int
    note: str = ""

    @property
    def bytes_per_row(self) -> float:
        return self.total_bytes / self.rows if self.rows else float("nan")

    @property
    def heap_bytes_per_row(self) -> float:
        return self.heap_bytes / self.rows if self.rows else float("nan")

    @property
    def seconds_per_million(self) -> float:
        return self.insert_seconds * 1_000_000 / self.rows if self.rows else float("nan")


def table_bytes(conn: psycopg.Connection, tables) -> tuple[int, int, int]:
    """Return (total bytes incl. TOAST and indexes, heap bytes, index count) of `tables`."""
    total = heap = indexes = 0
    for table in tables:
        row = conn.execute(
            "SELECT pg_total_relation_size(%s::regclass), pg_relation_size(%s::regclass),"
            " (SELECT count(*) FROM pg_index WHERE indrelid = %s::regclass)",
            [table, table, table],
        ).fetchone()
        total, heap, indexes = total + row[0], heap + row[1], indexes + row[2]
    return total, heap, indexes


def _today_insert(conn: psycopg.Connection, now: dt.datetime) -> int:
    """The floor's 24-hour ledger rows (email and WhatsApp) in today's layout; return how many were made."""
    with conn.transaction():
        plan = floor.plan_session_24h(conn, now)
        statement = floor.INSERT_DELIVERIES.replace("__PLAN__", plan.sql).replace("__BUSINESS__", "")
        params = {**plan.insert_params, "now": now, "whatsapp": True}
        return conn.execute(statement, params).fetchone()[1]


def _app_insert(conn: psycopg.Connection, now: dt.datetime) -> int:
    """The app's own 24-hour job (with its in-app rows); return how many ledger rows it made."""
    from automation.jobs import get_job

    result = get_job("session_reminders_24h").function(now=now, dry_run=False)
    return result.planned["email"] + result.planned["whatsapp"]


def _lean_insert(conn: psycopg.Connection, now: dt.datetime) -> int:
    """The same rows in the lean layout: events, then groups, then one narrow row per recipient and channel."""
    lower, upper = now + floor.NOT_UNDER, now + floor.DAY_24H
    with conn.transaction():
        floor._session_plan(  # fills bench_when: each session's time per zone and locale, formatted once
            conn, kind="session_24h", now=now, lower=floor.NOT_UNDER, upper=floor.DAY_24H, expiry=floor.NOT_UNDER
        )
        params = {"now": now, "lower": lower, "upper": upper, "expiry": floor.NOT_UNDER}
        conn.execute(
            """
            INSERT INTO bench_lean_event (kind, subject_type, subject_id, event_key, expires_at, created_at, context)
            SELECT 'session_24h', 'lms.livesession', s.id,
                   'session_24h:' || s.id || '@' || to_char(s.scheduled_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS'),
                   s.scheduled_at - %(expiry)s, %(now)s,
                   jsonb_build_object('title', s.title, 'course_title', c.title, 'join_url', s.meeting_url,
                       'scheduled_at',
                           to_char(s.scheduled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00',
                       'minutes_left', greatest(1, ceil(extract(epoch FROM s.scheduled_at - %(now)s) / 60))::int)
            FROM lms_livesession s JOIN lms_course c ON c.id = s.course_id
            WHERE NOT s.is_cancelled AND s.scheduled_at > %(lower)s AND s.scheduled_at <= %(upper)s
            ON CONFLICT (event_key) DO NOTHING
            """,
            params,
        )
        conn.execute(
            """
            INSERT INTO bench_lean_group (event_id, tz, locale, context)
            SELECT e.id, w.tz, w.locale,
                   jsonb_build_object('when', w.formatted, 'day_label', w.label, 'day_phrase', w.phrase)
            FROM bench_when w JOIN bench_lean_event e ON e.subject_id = w.subject_id AND e.kind = 'session_24h'
            ON CONFLICT (event_id, tz, locale) DO NOTHING
            """
        )
        conn.execute("ANALYZE bench_lean_event; ANALYZE bench_lean_group")
        return conn.execute(
            f"""
            INSERT INTO bench_lean_delivery (event_id, recipient_id, group_id, channel, priority, next_attempt_at,
                created_at, updated_at, to_address)
            SELECT e.id, u.id, g.id, c.code, 1, %(now)s, %(now)s, now(),
                   CASE c.channel WHEN 'email' THEN lower(u.email) ELSE u.phone END
            FROM bench_lean_event e
            JOIN lms_livesession s ON s.id = e.subject_id
            JOIN lms_enrollment en ON en.course_id = s.course_id AND en.is_active
            JOIN lms_user u ON u.id = en.student_id AND u.is_active
            JOIN bench_lean_group g ON g.event_id = e.id AND g.tz = u.timezone AND g.locale = u.locale
            JOIN {CHANNELS} ON {CHANNEL_FILTER}
            WHERE e.kind = 'session_24h' AND NOT s.is_cancelled
              AND s.scheduled_at > %(lower)s AND s.scheduled_at <= %(upper)s
            ON CONFLICT (event_id, recipient_id, channel) DO NOTHING
            """,
            params,
        ).rowcount


def _measure(conn, *, layout: str, insert, tables, now: dt.datetime) -> LedgerRow:
    insert_seconds, rows = _timed(insert, conn, now)
    clock = time.perf_counter()
    again = insert(conn, now)
    rerun_seconds = time.perf_counter() - clock
    total, heap, indexes = table_bytes(conn, tables)
    note = "" if again == 0 else f"re-run made {again:,} rows"
    return LedgerRow(layout, rows, insert_seconds, rerun_seconds, total, heap, indexes, note)


def _timed(insert, conn, now: dt.datetime) -> tuple[float, int]:
    clock = time.perf_counter()
    rows = insert(conn, now)
    return time.perf_counter() - clock, rows


def _empty_app_ledger(conn, *, size: Size, now: dt.datetime) -> None:
    empty_ledger(conn, size=size, now=now)
    for table in APP_TABLE_NAMES:
        conn.execute(f"VACUUM {table}")  # space TRUNCATE left behind is gone: sizes start at zero


def run_ledger(conn: psycopg.Connection, *, size: Size, now: dt.datetime) -> list[LedgerRow]:
    """Measure the 24-hour job's ledger rows in the app's layout, the one before it, and a lean floor.

    The app and the lean floor insert twice each, in turn (app, lean, app, lean), and keep the faster
    insert: the ratio of the two is a target, and one insert of a few seconds on this shared machine
    may land on a busy moment. Inserts longer than AGAIN_UNDER_SECONDS (the large size) run once:
    they are steadier, and the run's time budget has no room for a second."""
    _empty_app_ledger(conn, size=size, now=now)
    app = _measure(conn, layout="app: delivery + event + group", insert=_app_insert, tables=APP_TABLE_NAMES, now=now)
    empty_ledger(conn, size=size, now=now)
    today = _measure(
        conn, layout="before: one row holds all (bench table)", insert=_today_insert, tables=TODAY_TABLE_NAMES, now=now
    )
    empty_ledger(conn, size=size, now=now)
    conn.execute(LEAN_TABLES)
    lean = _measure(
        conn, layout="lean: event + group + row (bench tables)", insert=_lean_insert, tables=LEAN_TABLE_NAMES, now=now
    )
    if app.insert_seconds < AGAIN_UNDER_SECONDS:
        _empty_app_ledger(conn, size=size, now=now)
        app.insert_seconds = min(app.insert_seconds, _timed(_app_insert, conn, now)[0])
        conn.execute(LEAN_TABLES)
        lean.insert_seconds = min(lean.insert_seconds, _timed(_lean_insert, conn, now)[0])
    conn.execute("DROP TABLE bench_lean_delivery, bench_lean_group, bench_lean_event")
    for row in (today, lean):
        if row.rows != app.rows:
            row.note = f"made {row.rows:,} rows, the app {app.rows:,}"
    app.note = app.note or "insert: the whole job (with its in-app rows)"
    return [app, today, lean]
