"""
A ledger bigger than memory (issue 31, item 6): `python -m bench.big_ledger --database-url URL --days 30`.

Builds two databases with the same app data (bench/data.py at `--size`, large by default): one with
`--days` days of ledger history at `--rows-per-day` (default: the large size's 24-hour job, 2,322,350
rows a day, ledger and in-app rows as the bench counts them), one with none (`--empty-database-url`).
The history is generated in SQL (INSERT ... SELECT generate_series), never through the ORM, into the
app's own tables as migrated: events (`notifications_messageevent`), what each zone and locale of an
event's recipients share (`notifications_messagegroup`), the lean ledger rows as they are once sent
(`notifications_delivery`: status, provider id, rendered text, times), a history event each
(`notifications_deliveryevent`) and the in-app rows (`notifications_notification`, most of them read).
Each day holds sessions' "tomorrow" and "starting soon" events, each reaching up to 500 students on
email, WhatsApp (those opted in) and in-app, grouped by the students' zone and locale as the app groups
them, and lead follow-ups (an event per lead, an address-keyed row). The ledger's indexes and
constraints are dropped before the load and made again after it from their own definitions (so they are
exactly the migrated ones), then the tables are vacuumed and analyzed, as autovacuum would leave them.

Then, in one run, the same measurements on both databases (each in a process of its own), each after
the OS page cache is dropped (`sync; echo 3 > /proc/sys/vm/drop_caches`, when this runs as root;
PostgreSQL is not restarted: its 128 MB of shared buffers stay warm): the 24-hour job's first run and a
re-run, a dispatch claim (a batch of `NOTIFICATIONS_DISPATCH_BATCH_SIZE` from the pending rows the first
run made, then a warm one), a student's notifications page and unread badge, and retention: the purge of
the oldest day (the empty database gets that one day just before) (the VACUUM it leaves for autovacuum is not
measured).
Each figure is printed beside its empty-ledger twin with their ratio.

`--reuse` measures databases built by an earlier run (the planning rows a measurement made are removed
first; a purged day stays purged, so the next oldest is purged). `--rows-per-day 20000 --days 3` is the
small mode (the test suite runs its generator against the test database).
"""

import argparse
import datetime as dt
import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

LEDGER_TABLES = (
    "notifications_messageevent",
    "notifications_messagegroup",
    "notifications_delivery",
    "notifications_deliveryevent",
    "notifications_notification",
)
DEFAULT_ROWS_PER_DAY = 2_322_350  # the large size's 24-hour job: ledger and in-app rows (README)
RECIPIENTS_PER_SESSION = 500  # bench.sizes.ENROLLMENTS_PER_COURSE
LEAD_SHARE = 0.03  # lead follow-ups: about 68,000 of a large day's rows
SESSION_KINDS = (("session_24h", 1), ("session_15min", 0))  # (kind, priority)
META = "big_ledger_meta"
E164 = r"^\+[1-9][0-9]{7,14}$"

# The students who get messages, numbered from 0 (recipient number n is student n modulo their count).
STUDENTS = """
    DROP TABLE IF EXISTS big_students;
    CREATE UNLOGGED TABLE big_students AS
    SELECT (row_number() OVER (ORDER BY id) - 1)::int AS i, id, lower(email) AS email, phone, name,
           whatsapp_opt_in AND phone ~ '__E164__' AS whatsapp, timezone AS tz, locale
    FROM lms_user WHERE role = 'student' AND is_active AND email <> '';
    CREATE UNIQUE INDEX ON big_students (i);
    ANALYZE big_students;
""".replace("__E164__", E164)

# A day's session events (a "tomorrow" and a "starting soon" event per session), spread over the day.
EVENTS = """
    INSERT INTO notifications_messageevent (kind, key, subject_type, subject_id, created_at, held_at, hold_reason)
    SELECT k.kind, k.kind || ':' || (%(first)s + j) || '@big' || %(day)s, 'lms.livesession', %(first)s + j,
           %(start)s + ((j + k.shift * (%(sessions)s / 2)) %% %(sessions)s) * %(step)s * interval '1 second', NULL, ''
    FROM generate_series(0, %(sessions)s - 1) j, (VALUES ('session_24h', 0), ('session_15min', 1)) k (kind, shift)
    ORDER BY 5
"""
# The day's events with their session number, and a group per (event, zone, locale) of the students.
DAY_GROUPS = """
    DROP TABLE IF EXISTS big_groups;
    CREATE UNLOGGED TABLE big_groups AS
    SELECT e.id AS event_id, e.kind, e.subject_id - %(first)s AS j, e.created_at, z.tz, z.locale, NULL::bigint AS id,
           md5(e.id::text)::uuid AS token, CASE e.kind WHEN 'session_15min' THEN 0 ELSE 1 END AS priority,
           CASE e.kind WHEN 'session_15min' THEN 'Starting Soon: ' ELSE 'Starts Tomorrow: ' END
               || 'Live class ' || e.subject_id || ': Data Science' AS subject,
           CASE e.kind WHEN 'session_24h'
                THEN 'Starts [[day_label:' || to_char(e.created_at + interval '1 day', 'YYYY-MM-DD')
                     || ' Asia/Kolkata]]: '
                ELSE 'Starting Soon: ' END || 'Live class ' || e.subject_id || ': Data Science' AS title,
           CASE e.kind WHEN 'session_24h'
                THEN '"Live class ' || e.subject_id || ': Data Science" [[starts:'
                     || to_char((e.created_at + interval '1 day') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
                     || '+00:00]], Wed, 25 Nov 2026, 10:00 AM IST.'
                ELSE '[[Starts:' || to_char((e.created_at + interval '15 minutes') AT TIME ZONE 'UTC',
                     'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00]]. Join now.' END AS message,
           'https://coursehub.example.com/sessions/' || e.subject_id || '/rsvp/' AS link
    FROM notifications_messageevent e, (SELECT DISTINCT tz, locale FROM big_students) z
    WHERE e.id > %(after)s AND e.kind LIKE 'session_%%';
    INSERT INTO notifications_messagegroup (event_id, digest, context, expires_at, created_at)
    SELECT event_id, md5(event_id || tz || locale),
           jsonb_build_object('session_id', %(first)s + j,
               'title', 'Live class ' || (%(first)s + j) || ': Data Science',
               'course_title', 'Course ' || (j %% 2000 + 1) || ': Data Science',
               'join_url', 'https://meet.example.com/s' || (%(first)s + j), 'when', 'Wed, 25 Nov 2026, 10:00 AM',
               'local_date', '2026-11-25', 'days_away', 1, 'day_zone', tz, 'ask_rsvp', kind = 'session_24h',
               'scheduled_at', created_at + interval '1 day', 'minutes_left', 900),
           created_at + interval '23 hours 45 minutes', created_at
    FROM big_groups ORDER BY event_id, tz, locale;
    UPDATE big_groups b SET id = g.id FROM notifications_messagegroup g
    WHERE g.event_id = b.event_id AND g.digest = md5(b.event_id || b.tz || b.locale);
    CREATE INDEX ON big_groups (event_id, tz, locale);
    ANALYZE big_groups;
"""
# One recipient slot per (event, k): student (j * per_session + k) modulo the students.
RECIPIENTS = """
    SELECT g.event_id, g.id AS group_id, g.kind, g.created_at, g.j, s.id AS user_id, s.email, s.phone, s.name,
           s.whatsapp, g.token, g.priority, g.subject, g.title, g.message, g.link,
           hashint4((s.i + e.j * 31 + %(day)s * 7919)::int) & 1023 AS h
    FROM (SELECT DISTINCT event_id, j FROM big_groups) e
    CROSS JOIN generate_series(0, %(per_session)s - 1) k
    JOIN big_students s ON s.i = ((%(first)s + e.j) * %(per_session)s + k) %% %(students)s
    JOIN big_groups g ON g.event_id = e.event_id AND g.tz = s.tz AND g.locale = s.locale
"""
# How a sent row ended (h: 0-1023): mostly delivered or read, a few bounced, failed, expired or cancelled.
# The newest day's last rows are still "unknown" (waiting for the provider's word).
STATUS = """CASE
    WHEN %(newest)s AND h >= 1020 THEN 'unknown'
    WHEN h < 12 AND c.channel = 'email' THEN 'bounced' WHEN h < 22 THEN 'failed' WHEN h < 30 THEN 'expired'
    WHEN h < 34 THEN 'cancelled' WHEN h < 110 THEN 'sent' WHEN h < 700 THEN 'delivered' WHEN h < 960 THEN 'opened'
    ELSE 'clicked' END"""
SENT = "r.created_at + (h %% 50) * interval '1 second'"
DELIVERIES = f"""
    WITH made AS (
        INSERT INTO notifications_delivery (event_id, recipient_id, channel, to_address, group_id, own_context,
            status, attempts, next_attempt_at, priority, expires_at, claimed_at, claim_token, handed_over_at,
            provider_message_id, error_code, last_error, rendered_subject, rendered_text, template_version_id,
            is_test, whatsapp_category, cost, created_at, sent_at, delivered_at, opened_at, clicked_at, updated_at)
        SELECT event_id, user_id, channel, to_address, group_id, own_context, status,
               CASE WHEN status = 'failed' THEN 3 ELSE 1 END, created_at, priority, NULL, sent_at,
               token, sent_at,
               CASE WHEN status IN ('expired', 'cancelled') THEN ''
                    ELSE rpad(event_id || '-' || user_id || '-' || channel || '-', 36, 'f') END,
               CASE status WHEN 'bounced' THEN 'HardBounce' WHEN 'failed' THEN 'timeout' ELSE '' END,
               CASE status WHEN 'failed' THEN 'The provider did not answer in time.' ELSE '' END,
               CASE channel WHEN 'email' THEN subject ELSE '' END,
               CASE channel WHEN 'email' THEN 'Hi ' || name || ',' || %(email_text)s
                            ELSE 'Hi ' || name || ',' || %(whatsapp_text)s END,
               NULL, false, CASE channel WHEN 'whatsapp' THEN 'utility' ELSE '' END,
               CASE channel WHEN 'whatsapp' THEN 0.1150 END, created_at,
               CASE WHEN status NOT IN ('expired', 'cancelled') THEN sent_at END,
               CASE WHEN status IN ('delivered', 'opened', 'clicked') THEN sent_at + interval '4 seconds' END,
               CASE WHEN status IN ('opened', 'clicked') THEN sent_at + (h %% 300) * interval '1 minute' END,
               CASE WHEN status = 'clicked' THEN sent_at + (h %% 300 + 1) * interval '1 minute' END,
               sent_at + interval '4 seconds'
        FROM (
            SELECT r.event_id, r.user_id, c.channel,
                   CASE c.channel WHEN 'email' THEN r.email ELSE r.phone END AS to_address,
                   r.group_id, jsonb_build_object('student_id', r.user_id) AS own_context, {STATUS} AS status,
                   r.created_at, r.priority, {SENT} AS sent_at, r.subject, r.token, r.name, h
            FROM ({RECIPIENTS}) r
            JOIN (VALUES ('email'), ('whatsapp')) c (channel) ON c.channel = 'email' OR r.whatsapp
        ) r
        RETURNING id, status, sent_at
    )
    INSERT INTO notifications_deliveryevent (delivery_id, at, status, detail)
    SELECT id, coalesce(sent_at, now()), status,
           CASE status WHEN 'expired' THEN 'Expired before it was sent.' WHEN 'cancelled' THEN 'Cancelled.'
                       ELSE 'Accepted by the provider.' END
    FROM made
"""
# The in-app rows of the day's session events (their text as planning writes it, with its markers);
# most are read within the day, the last two days' less.
NOTIFICATIONS = f"""
    INSERT INTO notifications_notification (event_id, user_id, kind, title, message, link, read_at, created_at)
    SELECT r.event_id, r.user_id, r.kind, r.title, r.message, r.link,
           CASE WHEN r.h < %(read_below)s THEN r.created_at + (r.h %% 600) * interval '1 minute' END, r.created_at
    FROM ({RECIPIENTS}) r
"""
# Lead follow-ups: an event per lead, its row keyed by address (no account), its context its own.
LEADS = """
    WITH events AS (
        INSERT INTO notifications_messageevent (kind, key, subject_type, subject_id, created_at, held_at, hold_reason)
        SELECT %(lead_kind)s, %(lead_kind)s || ':' || n || '@big' || %(day)s, 'leads.lead', n %% %(leads)s + 1,
               %(start)s + (n %% 3600) * interval '1 second' + interval '4 hours', NULL, ''
        FROM generate_series(1, %(lead_rows)s) n
        RETURNING id, subject_id, created_at
    ), made AS (
        INSERT INTO notifications_delivery (event_id, recipient_id, channel, to_address, group_id, own_context,
            status, attempts, next_attempt_at, priority, claimed_at, claim_token, handed_over_at, provider_message_id,
            error_code, last_error, rendered_subject, rendered_text, is_test, whatsapp_category, created_at, sent_at,
            delivered_at, opened_at, updated_at)
        SELECT id, NULL, 'email', 'lead' || subject_id || '@example.org', NULL,
               jsonb_build_object('name', 'Asha Verma', 'first_name', 'Asha', 'lead_id', subject_id), x.status, 1,
               created_at, 3, created_at, md5('lead' || id)::uuid, created_at, md5('lead' || id), '', '',
               'Still thinking about your course, Asha?', 'Hi Asha,' || %(email_text)s, false, '', created_at,
               created_at + interval '2 seconds',
               CASE WHEN x.status IN ('delivered', 'opened') THEN created_at + interval '5 seconds' END,
               CASE WHEN x.status = 'opened' THEN created_at + interval '3 hours' END, created_at + interval '5 seconds'
        FROM events, LATERAL (SELECT CASE WHEN id %% 20 = 0 THEN 'bounced' WHEN id %% 5 = 0 THEN 'opened'
                                          ELSE 'delivered' END AS status) x
        ORDER BY id
        RETURNING id, status, sent_at
    )
    INSERT INTO notifications_deliveryevent (delivery_id, at, status, detail)
    SELECT id, sent_at, status, 'Accepted by the provider.' FROM made
"""
EMAIL_TEXT = (
    '\n\nYour session "Live class 12: Data Science" starts tomorrow, Wed, 25 Nov 2026, 10:00 AM IST.\n\n'
    "Course: Course 12: Data Science\nJoin here: [link]\n\nAdd it to your calendar: "
    "https://calendar.google.com/calendar/render?action=TEMPLATE&text=Live+class+12\n\nSee you there!\n"
    "CourseHub\n\nWhy am I getting this? You are enrolled in Course 12. Change what we send you: [link]\n"
)
WHATSAPP_TEXT = ' your class "Live class 12: Data Science" starts tomorrow at 10:00 AM IST. Join: [link]'


def _one(cursor, statement: str, params=None):
    cursor.execute(statement, params)
    return cursor.fetchone()[0]


def _run(cursor, script: str, params: dict) -> None:
    """Run the statements of `script` in turn (one statement a call: the server binds parameters)."""
    for statement in script.split(";"):
        if statement.strip():
            cursor.execute(statement, params)


def day_plan(*, rows_per_day: int, students: int) -> dict:
    """How a day's rows are made: sessions a day, recipients each, lead rows."""
    per_session = min(RECIPIENTS_PER_SESSION, students)
    lead_rows = round(rows_per_day * LEAD_SHARE)
    # A recipient slot makes an email, an in-app row and (half the students) a WhatsApp row, for two kinds.
    sessions = max(1, math.ceil((rows_per_day - lead_rows) / (2 * per_session * 2.5)))
    return {"sessions": sessions, "per_session": per_session, "lead_rows": lead_rows}


def generate_history(
    cursor, *, days: int, rows_per_day: int, now: dt.datetime, log=None, only_day=None, beside=None
) -> None:
    """Add `days` days of sent history before `now` to the ledger tables (`beside`: a cursor of another
    connection in autocommit, which makes the in-app rows at the same time).

    `cursor` is a psycopg or Django cursor on a database with the app's tables and students. Each day is
    one statement per table (commit between days when the connection is in autocommit)."""
    from leads.campaigns import FOLLOW_UP_DAYS

    _run(cursor, STUDENTS, {})
    students = _one(cursor, "SELECT count(*) FROM big_students")
    if not students:
        raise RuntimeError("No active student to send to: generate the app data first (bench/data.py).")
    leads = _one(cursor, "SELECT count(*) FROM leads_lead") or 1000
    plan = day_plan(rows_per_day=rows_per_day, students=students)
    step = 86_400 / plan["sessions"]
    for day in range(days) if only_day is None else [only_day]:
        started = time.monotonic()
        start = (now - dt.timedelta(days=days - day)).replace(microsecond=0)
        params = {
            **plan,
            "day": day,
            "start": start,
            "step": step,
            "first": day * plan["sessions"],
            "students": students,
            "leads": leads,
            "newest": day == days - 1,
            "read_below": 300 if day >= days - 2 else 900,
            "email_text": EMAIL_TEXT,
            "whatsapp_text": WHATSAPP_TEXT,
            "lead_kind": FOLLOW_UP_DAYS[3],
        }
        params["after"] = _one(cursor, "SELECT coalesce(max(id), 0) FROM notifications_messageevent")
        cursor.execute(EVENTS, params)
        _run(cursor, DAY_GROUPS, params)
        if beside is None:
            cursor.execute(DELIVERIES, params)
            cursor.execute(NOTIFICATIONS, params)
        else:  # the in-app rows on another connection meanwhile (their ids need not follow the ledger's)
            thread = threading.Thread(target=beside.execute, args=(NOTIFICATIONS, params))
            thread.start()
            cursor.execute(DELIVERIES, params)
            thread.join()
        if plan["lead_rows"]:
            cursor.execute(LEADS, params)
        if log:
            log(f"day {day + 1}/{days} ({start:%Y-%m-%d}): {time.monotonic() - started:.0f} s")
    _run(cursor, "DROP TABLE big_groups; DROP TABLE big_students", {})


# --- indexes: dropped before the load, made again after it from their own definitions --------------------


def ledger_indexes(cursor) -> list[tuple[str, str, str]]:
    """(table, name, statement that makes it) for each index and constraint of the ledger tables but the
    primary keys and check constraints: unique and foreign-key constraints, then plain indexes."""
    cursor.execute(
        """
        SELECT c.conrelid::regclass::text, c.conname,
               format('ALTER TABLE %%I ADD CONSTRAINT %%I %%s', c.conrelid::regclass::text, c.conname,
                      pg_get_constraintdef(c.oid))
        FROM pg_constraint c
        WHERE c.conrelid = ANY(%(tables)s::regclass[]) AND c.contype IN ('u', 'f')
        ORDER BY c.contype DESC, c.conname
        """,
        {"tables": list(LEDGER_TABLES)},
    )
    constraints = [(table, name, f"constraint:{statement}") for table, name, statement in cursor.fetchall()]
    cursor.execute(
        """
        SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY(%(tables)s::regclass[]) AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('u', 'p'))
        ORDER BY 2
        """,
        {"tables": list(LEDGER_TABLES)},
    )
    return constraints + [(table, name, f"index:{statement}") for table, name, statement in cursor.fetchall()]


def drop_indexes(cursor, indexes) -> None:
    for table, name, statement in reversed(indexes):  # foreign keys before the unique constraints they use
        if statement.startswith("constraint:"):
            cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        else:
            cursor.execute(f'DROP INDEX "{name}"')


def create_indexes(cursor, indexes, log=None) -> None:
    for _, name, statement in indexes:
        started = time.monotonic()
        cursor.execute(statement.split(":", 1)[1])
        if log:
            log(f"made {name}: {time.monotonic() - started:.0f} s")


# --- building the two databases ---------------------------------------------------------------------------


def checked_url(url: str) -> str:
    """`url` in libpq's form, refusing a database name that could hold real data (it is dropped)."""
    from .database import libpq_url

    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name and not name.endswith("_empty"):
        raise SystemExit(f"This creates and drops its databases: name them with 'bench' or '_empty', not {name!r}.")
    return libpq_url(url)


def empty_url(url: str) -> str:
    parts = urlsplit(url)
    name = parts.path.lstrip("/").replace("_bench", "") + "_empty"
    return urlunsplit(parts._replace(path=f"/{name}"))


def build(url: str, *, size, now: dt.datetime, days: int, rows_per_day: int, history: bool, log) -> dict:
    """Create the database at `url`, migrate it, fill the app data and (`history`) the ledger's days."""
    from . import data, database

    database.create_database(url)
    database.migrate(url)
    with database.connect(url) as conn:
        conn.autocommit = True
        conn.execute(f"CREATE TABLE {META} (name text PRIMARY KEY, value text NOT NULL)")
        conn.execute(
            f"INSERT INTO {META} VALUES ('now', %s), ('days', %s), ('rows_per_day', %s)",
            [now.isoformat(), str(days if history else 0), str(rows_per_day)],
        )
        database.set_column_defaults(conn)
        started = time.monotonic()
        data.generate(conn, size=size, now=now)
        log(f"{database.database_name(url)}: app data ({size.name}) in {time.monotonic() - started:.0f} s")
    return add_history(url, log=log) if history else {}


def add_history(url: str, *, log, indexes=None) -> dict:
    """Fill the ledger of the database at `url` (app data made) with the days its META names: its
    indexes and constraints (`indexes`: as ledger_indexes gives them, when they are dropped already)
    dropped, the rows loaded, the tables vacuumed, the indexes made again."""
    from . import database

    with database.connect(url) as conn, database.connect(url) as other:
        conn.autocommit = other.autocommit = True
        meta = dict(conn.execute(f"SELECT name, value FROM {META}").fetchall())
        now, days, rows_per_day = dt.datetime.fromisoformat(meta["now"]), int(meta["days"]), int(meta["rows_per_day"])
        cursor = psycopg.ClientCursor(conn)
        started = time.monotonic()
        cursor.execute("TRUNCATE " + ", ".join(LEDGER_TABLES))
        cursor.execute(f"DELETE FROM {META} WHERE name LIKE 'history_max_%%'", {})
        cursor.execute("SET work_mem = '256MB'")
        cursor.execute("SET maintenance_work_mem = '1GB'")
        present = ledger_indexes(cursor)
        drop_indexes(cursor, present)
        indexes = indexes or present
        generate_history(
            cursor, days=days, rows_per_day=rows_per_day, now=now, log=log, beside=psycopg.ClientCursor(other)
        )
        loaded = time.monotonic()
        # As autovacuum would leave the old days: hint bits and the visibility map set (index-only scans),
        # statistics taken. Before the indexes, so each page is written once more, not twice.
        for table in LEDGER_TABLES:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
        vacuumed = time.monotonic()
        log(f"vacuumed in {vacuumed - loaded:.0f} s")
        create_indexes(cursor, indexes, log=log)
        indexed = time.monotonic()
        cursor.execute(
            f"INSERT INTO {META} SELECT 'history_max_' || t, coalesce(max_id, 0)::text FROM (VALUES "
            "('notifications_messageevent', (SELECT max(id) FROM notifications_messageevent)),"
            "('notifications_messagegroup', (SELECT max(id) FROM notifications_messagegroup)),"
            "('notifications_delivery', (SELECT max(id) FROM notifications_delivery)),"
            "('notifications_deliveryevent', (SELECT max(id) FROM notifications_deliveryevent)),"
            "('notifications_notification', (SELECT max(id) FROM notifications_notification))) v (t, max_id)"
        )
        return {
            "load_seconds": loaded - started,
            "vacuum_seconds": vacuumed - loaded,
            "index_seconds": indexed - vacuumed,
        }


def sizes(url: str) -> dict:
    """Rows and bytes (pg_total_relation_size: heap, TOAST, indexes) of each ledger table."""
    from . import database

    with database.connect(url) as conn:
        result = {}
        for table in LEDGER_TABLES:
            rows, total, indexes = conn.execute(
                f"SELECT (SELECT count(*) FROM {table}), pg_total_relation_size('{table}'), pg_indexes_size('{table}')"
            ).fetchone()
            result[table] = {"rows": rows, "bytes": total, "index_bytes": indexes}
        return result


# --- measuring (in a process of its own per database: python -m bench.big_ledger --measure URL) -----------


def drop_caches() -> bool:
    """Write out and drop the OS page cache (root only); say whether it was dropped."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def _timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def measure(url: str, redis_url: str = "") -> dict:
    """Measure planning, claims, the page, the badge and retention on the database at `url` (Django set up on it);
    the claims with Meta's tier in Redis too when `redis_url` is given."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from automation.jobs import get_job
    from notifications.conf import conf
    from notifications.services.dispatch.claim import claim_due_deliveries
    from notifications.services.inapp import get_unread_notification_count
    from notifications.services.retention import purge_old_deliveries

    from . import database
    from .timing import counting_queries

    with database.connect(url) as conn:
        conn.autocommit = True
        meta = dict(conn.execute(f"SELECT name, value FROM {META}").fetchall())
        now = dt.datetime.fromisoformat(meta["now"])
        _remove_measured_rows(conn, meta)
    figures, cold = {}, True

    def cold_cache() -> None:
        nonlocal cold
        connection.close()
        cold = drop_caches() and cold

    plan = get_job("session_24h").function
    cold_cache()
    with counting_queries() as counter:
        seconds, planned = _timed(lambda: plan(now=now, dry_run=False))
    figures["planning: 24 h job, first run"] = (seconds, f"{planned.total:,} rows, {counter.counted.queries} queries")
    cold_cache()
    seconds, _ = _timed(lambda: plan(now=now, dry_run=False))
    figures["planning: 24 h job, re-run (nothing new)"] = (seconds, "")

    with database.connect(url) as conn:
        conn.autocommit = True
        # What autovacuum does after the first run's rows, done now so that it does not run beside the claims
        # (in one run it did, on the empty twin only: its claims took ten times as long as in the next run).
        conn.execute("VACUUM (ANALYZE) notifications_delivery, notifications_notification")
        pending = conn.execute("SELECT count(*) FROM notifications_delivery WHERE status = 'pending'").fetchone()[0]
    claim_at = now + dt.timedelta(seconds=1)
    batch = conf.dispatch_batch_size
    # Without Redis, Meta's tier is counted in the ledger: exactly on the first claim, then kept (limits.py).
    cold_cache()
    seconds, rows = _timed(lambda: claim_due_deliveries(now=claim_at, limit=batch))
    figures["dispatch: claim a batch (cold; the tier counted in the ledger)"] = (
        seconds,
        f"{len(rows)} of {pending:,} pending",
    )
    seconds, rows = _timed(lambda: claim_due_deliveries(now=claim_at, limit=batch))
    figures["dispatch: the next claim (warm; the count kept)"] = (seconds, f"{len(rows)} rows")
    if redis_url:  # as several workers run: the tier in Redis, seeded from the ledger by the first claim
        from django.test import override_settings

        from notifications.services.dispatch.limits import ReachedNumbers

        with override_settings(REDIS_URL=redis_url):
            reached = ReachedNumbers.shared(conf.whatsapp_daily_unique_recipients)
            reached.client.delete(*reached.keys)  # an earlier measurement's seed
            cold_cache()
            seconds, rows = _timed(lambda: claim_due_deliveries(now=claim_at, limit=batch))
            figures["dispatch with Redis: claim a batch (cold; seeds the tier)"] = (seconds, f"{len(rows)} rows")
            seconds, rows = _timed(lambda: claim_due_deliveries(now=claim_at, limit=batch))
            figures["dispatch with Redis: the next claim (warm)"] = (seconds, f"{len(rows)} rows")

    with database.connect(url) as conn:
        # The first student: in every day's history (recipients go round the students) and in tomorrow's sessions.
        reader = conn.execute("SELECT min(id) FROM lms_user WHERE role = 'student' AND is_active").fetchone()[0]
        reader_rows = conn.execute(
            "SELECT count(*) FROM notifications_notification WHERE user_id = %s",
            [reader],
        ).fetchone()[0]
    user = get_user_model().objects.get(pk=reader)
    client = Client()
    client.force_login(user)
    cold_cache()
    seconds, response = _timed(lambda: client.get("/notifications/"))
    if response.status_code != 200:
        raise RuntimeError(f"/notifications/ answered {response.status_code}")
    figures["student: notifications page (cold)"] = (seconds, f"user {reader}: {reader_rows:,} notifications")
    seconds, _ = _timed(lambda: client.get("/notifications/"))
    figures["student: notifications page (warm)"] = (seconds, "")
    cold_cache()
    seconds, count = _timed(lambda: get_unread_notification_count(user=user))
    figures["student: unread badge (cold)"] = (seconds, f"{count:,} unread")

    with database.connect(url) as conn:
        conn.autocommit = True
        if meta["days"] == "0":
            # The empty ledger's twin: a ledger of the one day the other one purges (the rows planned
            # above would stop the purge's walk by id at its first window, as younger than the cutoff).
            conn.execute("TRUNCATE " + ", ".join(LEDGER_TABLES))
            days = int(meta.get("purge_days", "30"))
            generate_history(
                psycopg.ClientCursor(conn), days=days, rows_per_day=int(meta["rows_per_day"]), now=now, only_day=0
            )
            conn.execute("VACUUM (ANALYZE) " + ", ".join(LEDGER_TABLES))
        # By id (ids grow with time, as retention walks them): min(created_at) reads the whole table.
        oldest = conn.execute("SELECT created_at FROM notifications_delivery ORDER BY id LIMIT 1").fetchone()[0]
    # A day of history runs from its first row for 24 hours: the purge's cutoff is the next day's start.
    purge_now = oldest + dt.timedelta(days=1 + conf.retention_days)
    cold_cache()
    seconds, purged = _timed(lambda: purge_old_deliveries(now=purge_now))
    figures["retention: purge the oldest day"] = (seconds, f"{purged.outcomes['deliveries']:,} deliveries")
    return {"cold": cold, "figures": {name: [s, note] for name, (s, note) in figures.items()}}


def _remove_measured_rows(conn, meta: dict) -> None:
    """Remove the rows an earlier measurement planned (newer than the history) and its planning marks,
    so each run starts alike."""
    removed = conn.execute(  # their history first: it refers to them
        "DELETE FROM notifications_deliveryevent WHERE delivery_id > %s",
        [int(meta.get("history_max_notifications_delivery", 0))],
    ).rowcount
    for table in (
        "notifications_deliveryevent",
        "notifications_delivery",
        "notifications_notification",
        "notifications_messagegroup",
        "notifications_messageevent",
    ):
        after = int(meta.get(f"history_max_{table}", 0))
        removed += conn.execute(f"DELETE FROM {table} WHERE id > %s", [after]).rowcount
    # And the planning marks it left: the next measurement's first run is a first (full) one again.
    conn.execute("DELETE FROM lms_planningmark")
    if removed:
        conn.execute("VACUUM (ANALYZE) " + ", ".join(LEDGER_TABLES))


# --- the command ----------------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    from .database import DEFAULT_URL
    from .sizes import SIZES

    parser = argparse.ArgumentParser(prog="python -m bench.big_ledger", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL.replace("coursehub_bench", "coursehub_big_bench"))
    parser.add_argument("--empty-database-url", help="the twin without history (default: the name + _empty)")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows-per-day", type=int, default=DEFAULT_ROWS_PER_DAY)
    parser.add_argument("--size", choices=SIZES, default="large", help="the app data (default: large)")
    parser.add_argument("--reuse", action="store_true", help="measure the databases an earlier run built")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8"),
        help="a Redis for the claims with the tier in Redis (its keys for it are deleted first; '' for none)",
    )
    parser.add_argument("--build-only", action="store_true", help="build the databases, measure nothing")
    parser.add_argument(
        "--history-only", action="store_true", help="make the big ledger's history again (app data kept), then measure"
    )
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)  # the per-database worker
    return parser.parse_args(argv)


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {message}", file=sys.stderr, flush=True)


def _measure_in_process(url: str, redis_url: str) -> dict:
    from .database import app_env

    process = subprocess.run(
        [sys.executable, "-m", "bench.big_ledger", "--measure", url, "--redis-url", redis_url],
        # Meta's tier at this volume (hundreds of thousands of numbers a day): a limit the window's numbers
        # stay under, so both ledgers claim the same rows (with the default 1,000 the history alone would
        # use it up). A cache of its own: the first claim counts the numbers reached, none kept from an
        # earlier measurement.
        env=app_env(url, LOG_LEVEL="WARNING", WHATSAPP_DAILY_UNIQUE_RECIPIENTS="1000000", CACHE_URL="locmemcache://"),
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if process.returncode:
        raise RuntimeError(f"measuring {url} failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def _gb(value: int) -> str:
    return f"{value / 1024**3:.1f} GB"


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.measure:
        import django

        django.setup()
        print(json.dumps(measure(args.measure, redis_url=args.redis_url)))
        return 0
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    big = checked_url(args.database_url)
    empty = checked_url(args.empty_database_url or empty_url(args.database_url))
    os.environ.update({"DATABASE_URL": big})
    import django

    django.setup()
    from django.utils import timezone

    from .machine import describe
    from .sizes import SIZES

    size = SIZES[args.size]
    build_figures = {}
    if args.history_only:
        from . import database

        with database.connect(empty) as conn:  # the definitions, from the twin (the big one's may be dropped)
            conn.autocommit = True
            indexes = ledger_indexes(psycopg.ClientCursor(conn))
            conn.execute(f"UPDATE {META} SET value = %s WHERE name = 'purge_days'", [str(args.days)])
        with database.connect(big) as conn:
            conn.autocommit = True
            conn.execute(f"UPDATE {META} SET value = %s WHERE name = 'days'", [str(args.days)])
            conn.execute(f"UPDATE {META} SET value = %s WHERE name = 'rows_per_day'", [str(args.rows_per_day)])
        build_figures = add_history(big, log=_log, indexes=indexes)
    elif not args.reuse:
        now = timezone.now().replace(microsecond=0)
        _log(f"building {urlsplit(empty).path[1:]} (app data, no history)")
        build(empty, size=size, now=now, days=args.days, rows_per_day=args.rows_per_day, history=False, log=_log)
        from . import database

        with database.connect(empty) as conn:
            conn.execute(f"INSERT INTO {META} VALUES ('purge_days', %s)", [str(args.days)])
            conn.commit()
        _log(f"building {urlsplit(big).path[1:]}: {args.days} days of {args.rows_per_day:,} rows")
        build_figures = build(
            big, size=size, now=now, days=args.days, rows_per_day=args.rows_per_day, history=True, log=_log
        )
    if args.build_only:
        return 0
    before = sizes(big)
    _log("measuring the big ledger")
    big_figures = _measure_in_process(big, args.redis_url)
    _log("measuring the empty ledger")
    empty_figures = _measure_in_process(empty, args.redis_url)
    from . import database

    with database.connect(big) as conn:
        machine = describe(conn)
    print(f"Machine: {machine}")
    print(
        f"Memory: {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1024**3:.1f} GB; "
        f"OS page cache dropped before each measurement: {'yes' if big_figures['cold'] else 'NO (not root)'}"
    )
    if build_figures:
        print("Built in " + ", ".join(f"{name} {seconds / 60:.1f} min" for name, seconds in build_figures.items()))
    total = sum(table["bytes"] for table in before.values())
    print(f"Big ledger ({urlsplit(big).path[1:]}): {_gb(total)} on disk (pg_total_relation_size)")
    for table, figures in before.items():
        print(f"  {table}: {figures['rows']:,} rows, {_gb(figures['bytes'])} (indexes {_gb(figures['index_bytes'])})")
    print(f"\n| measurement | {args.days}-day ledger | empty ledger | ratio | notes (big; empty) |")
    print("| --- | --- | --- | --- | --- |")
    for name, (seconds, note) in big_figures["figures"].items():
        twin, twin_note = empty_figures["figures"][name]
        ratio = seconds / twin if twin else float("inf")
        print(f"| {name} | {seconds * 1000:,.1f} ms | {twin * 1000:,.1f} ms | {ratio:.2f}x | {note}; {twin_note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
