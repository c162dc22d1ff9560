"""
The ledger's layout before the lean ledger (issue 16), as a bench table, and the hand-written INSERT ...
SELECT filling it with the 24-hour job's rows: what bench.ledger compares the lean ledger's bytes and
times with, and what bench.dispatch fills a queue with quickly (then moved into the app's ledger).
Planning's floor is bench.floor, on today's tables.

The ledger rows go to `bench_today_delivery`, the ledger as it was before the lean layout (a row per
message holding its whole context under a text dedupe key, the indexes it had). What the database
cannot compute (dates and money formatted by Babel) is computed in Python once per (event, zone,
locale) or (amount, currency, locale), never per recipient, and joined in from a small temporary table.
"""

import datetime as dt
import json
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.urls import reverse

from common.formatting import format_money, format_when, zone
from lms.conf import conf as lms_conf
from lms.reminders import DAY_24H, NOT_UNDER
from notifications.recipients import E164_SHAPE, REF_PREFIX, first_name_sql

# The planner's rules (notifications.recipients), in PostgreSQL.
E164 = E164_SHAPE.pattern  # the shape check (the dispatcher validates numbers fully)
USER_FIELDS = f"u.id AS user_id, '{REF_PREFIX}' || u.id AS ref, u.email, u.phone, u.whatsapp_opt_in"
STUDENTS_OF_COURSE = """
    JOIN lms_enrollment e ON e.course_id = {course} AND e.is_active
    JOIN lms_user u ON u.id = e.student_id AND u.is_active
"""

# The ledger before the lean layout (notifications_delivery as migration 0010 left it), as a bench table.
TODAY_TABLE = "bench_today_delivery"
TODAY_LAYOUT = f"""
    DROP TABLE IF EXISTS {TODAY_TABLE};
    CREATE TABLE {TODAY_TABLE} (
        id bigserial PRIMARY KEY,
        kind varchar(64) NOT NULL,
        channel varchar(16) NOT NULL,
        dedupe_key varchar(255) NOT NULL,
        event_key varchar(200) NOT NULL,
        subject_type varchar(64) NOT NULL,
        subject_id bigint,
        recipient_id bigint REFERENCES lms_user (id) DEFERRABLE INITIALLY DEFERRED,
        to_address varchar(254) NOT NULL CHECK (to_address <> ''),
        context jsonb NOT NULL,
        status varchar(16) NOT NULL,
        attempts smallint NOT NULL,
        next_attempt_at timestamptz NOT NULL,
        priority smallint NOT NULL DEFAULT 2,
        expires_at timestamptz,
        claimed_at timestamptz,
        claim_token uuid,
        handed_over_at timestamptz,
        provider_message_id varchar(255) NOT NULL,
        error_code varchar(64) NOT NULL,
        last_error text NOT NULL,
        rendered_subject varchar(255) NOT NULL,
        rendered_text text NOT NULL,
        template_version_id bigint,
        is_test boolean NOT NULL,
        whatsapp_category varchar(16) NOT NULL DEFAULT '',
        cost numeric(10, 4),
        created_at timestamptz NOT NULL,
        sent_at timestamptz,
        delivered_at timestamptz,
        opened_at timestamptz,
        clicked_at timestamptz,
        updated_at timestamptz NOT NULL,
        UNIQUE (channel, dedupe_key)
    );
    CREATE INDEX ON {TODAY_TABLE} (recipient_id);
    CREATE INDEX ON {TODAY_TABLE} (template_version_id);
    CREATE INDEX ON {TODAY_TABLE} (priority, next_attempt_at) WHERE status = 'pending';
    CREATE INDEX ON {TODAY_TABLE} (claimed_at) WHERE status = 'sending';
    CREATE INDEX ON {TODAY_TABLE} (subject_type, subject_id);
    CREATE INDEX ON {TODAY_TABLE} (recipient_id, created_at DESC);
    CREATE INDEX ON {TODAY_TABLE} (to_address);
    CREATE INDEX ON {TODAY_TABLE} (provider_message_id) WHERE provider_message_id <> '';
    CREATE INDEX ON {TODAY_TABLE} (kind, status);
    CREATE INDEX ON {TODAY_TABLE} (handed_over_at, to_address)
        WHERE channel = 'whatsapp' AND handed_over_at IS NOT NULL;
    CREATE INDEX ON {TODAY_TABLE} (updated_at) WHERE status = 'unknown';
"""

# __PLAN__ is a SELECT of user_id, ref, email, phone, whatsapp_opt_in, subject_id, event_key, expires_at,
# context, title, message, link: one row per recipient.
INSERT_DELIVERIES = f"""
    WITH made AS (
        INSERT INTO bench_today_delivery (kind, channel, dedupe_key, event_key, subject_type, subject_id,
            recipient_id, to_address, context, status, attempts, next_attempt_at, expires_at, provider_message_id,
            error_code, last_error, rendered_subject, rendered_text, created_at, updated_at, is_test, priority)
        SELECT %(kind)s, c.channel, p.event_key || ':' || p.ref, p.event_key, %(subject_type)s, p.subject_id,
               p.user_id, CASE c.channel WHEN 'email' THEN lower(p.email) ELSE p.phone END, p.context, 'pending', 0,
               %(now)s, p.expires_at, '', '', '', '', '', %(now)s, now(), false, %(priority)s
        FROM (__PLAN__) p JOIN (VALUES ('email'), ('whatsapp')) AS c (channel)
          ON (c.channel = 'email' AND p.email <> '')
          OR (c.channel = 'whatsapp' AND %(whatsapp)s AND p.whatsapp_opt_in AND p.phone ~ '{E164}')
        ON CONFLICT (channel, dedupe_key) DO NOTHING
        RETURNING channel, subject_id
    )__BUSINESS__
    SELECT count(*) FILTER (WHERE channel = 'email'), count(*) FROM made
"""


@dataclass
class Plan:
    """The recipients of one kind of message, as a SELECT, and how to insert them."""

    sql: str
    params: dict
    kind: str
    subject_type: str
    whatsapp: bool
    inapp: bool
    flag_leads: str = ""

    @property
    def insert_params(self) -> dict:
        """The parameters of INSERT_DELIVERIES for this plan (besides now and whatsapp)."""
        from notifications.kinds import get_kind
        from notifications.services.planning import priority_for

        priority = priority_for(get_kind(self.kind))
        return {**self.params, "kind": self.kind, "subject_type": self.subject_type, "priority": priority}


# The floor's rows moved into the app's ledger, as its migration moved the ledger of before: an event
# per key, each row keeping its context (without an account's name, read from the account).
MOVE_TO_APP = f"""
    INSERT INTO notifications_messageevent (kind, key, subject_type, subject_id, created_at)
    SELECT min(kind), event_key, min(subject_type), min(subject_id), min(created_at)
    FROM {TODAY_TABLE} GROUP BY event_key
    ON CONFLICT (key) DO NOTHING;
    INSERT INTO notifications_delivery (event_id, recipient_id, channel, to_address, own_context, status, attempts,
        next_attempt_at, priority, expires_at, provider_message_id, error_code, last_error, rendered_subject,
        rendered_text, whatsapp_category, is_test, created_at)
    SELECT e.id, t.recipient_id, t.channel, t.to_address,
           CASE WHEN t.recipient_id IS NULL THEN t.context ELSE t.context - 'name' - 'first_name' END, t.status,
           t.attempts, t.next_attempt_at, t.priority, t.expires_at, '', '', '', '', '', '', false, t.created_at
    FROM {TODAY_TABLE} t JOIN notifications_messageevent e ON e.key = t.event_key;
    DELETE FROM {TODAY_TABLE};
"""


def move_to_app_ledger(conn: psycopg.Connection) -> None:
    """Move the rows the floor made into the app's ledger (to be sent by the app's dispatcher)."""
    conn.execute(MOVE_TO_APP)


def _first_name(column: str) -> str:
    return first_name_sql("postgresql", column)


def _copy(conn: psycopg.Connection, table: str, columns: str, rows) -> None:
    conn.execute(f"CREATE TEMP TABLE {table} ({columns}) ON COMMIT DROP")
    names = ", ".join(column.split()[0] for column in columns.split(","))
    with conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    # Without statistics the planner takes the lookup for a few rows and nests loops over every student.
    conn.execute(f"ANALYZE {table}")


def _day_words(moment: dt.datetime, now: dt.datetime, tz: str) -> tuple[str, str]:
    local = zone(tz)
    days = (moment.astimezone(local).date() - now.astimezone(local).date()).days
    if days in (0, 1):
        return ("Today", "today") if days == 0 else ("Tomorrow", "tomorrow")
    weekday = moment.astimezone(local).strftime("%A")
    return weekday, f"on {weekday}"


def _zones(conn) -> list[tuple[str, str]]:
    return conn.execute("SELECT DISTINCT timezone, locale FROM lms_user").fetchall()


def _session_plan(conn, *, kind: str, now, lower: dt.timedelta, upper: dt.timedelta, expiry: dt.timedelta) -> "Plan":
    sessions = conn.execute(
        "SELECT id, scheduled_at FROM lms_livesession"
        " WHERE NOT is_cancelled AND scheduled_at > %s AND scheduled_at <= %s",
        [now + lower, now + upper],
    ).fetchall()
    zones = _zones(conn)
    rows = (
        (pk, tz, locale, format_when(at, tz=tz, locale=locale), *_day_words(at, now, tz))
        for pk, at in sessions
        for tz, locale in zones
    )
    _copy(conn, "bench_when", "subject_id bigint, tz text, locale text, formatted text, label text, phrase text", rows)
    # The 24-hour reminder carries the calendar invitation: its context, made once per session as the app does.
    _copy(conn, "bench_calendar", "subject_id bigint, context jsonb", _calendars([pk for pk, _ in sessions], kind))
    # The in-app text says when relative to the moment it is read: a marker the page turns into words
    # ("[[Starts:ISO 8601]]", notifications/services/inapp.py), as the shipped templates write it.
    iso = """to_char(s.scheduled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00'"""
    if kind == "session_24h":
        title = "'Starts ' || w.label || ': ' || s.title"
        message = f"""'"' || s.title || '" [[starts:' || {iso} || ']], ' || w.formatted || '.'"""
    else:
        title = "'Starting Soon: ' || s.title"
        message = f"'[[Starts:' || {iso} || ']]. Join now.'"
    return Plan(
        f"""
        SELECT {USER_FIELDS}, s.id AS subject_id,
               %(kind)s::text || ':' || s.id || '@' || to_char(s.scheduled_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS')
                   AS event_key,
               s.scheduled_at - %(expiry)s AS expires_at,
               coalesce(cal.context, '{{}}'::jsonb) || jsonb_build_object('name', u.name,
                   'first_name', {_first_name("u.name")}, 'title', s.title,
                   'course_title', c.title, 'join_url', s.meeting_url,
                   'scheduled_at', to_char(s.scheduled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00',
                   'minutes_left', m.minutes, 'when', w.formatted, 'day_label', w.label, 'day_phrase', w.phrase)
                   AS context,
               {title} AS title, {message} AS message, s.meeting_url AS link
        FROM lms_livesession s
        JOIN lms_course c ON c.id = s.course_id
        {STUDENTS_OF_COURSE.format(course="s.course_id")}
        JOIN bench_when w ON w.subject_id = s.id AND w.tz = u.timezone AND w.locale = u.locale
        LEFT JOIN bench_calendar cal ON cal.subject_id = s.id
        CROSS JOIN LATERAL (
            SELECT greatest(1, ceil(extract(epoch FROM s.scheduled_at - %(now)s) / 60))::int AS minutes
        ) m
        WHERE NOT s.is_cancelled AND s.scheduled_at > %(lower)s AND s.scheduled_at <= %(upper)s
        """,
        {"now": now, "expiry": expiry, "lower": now + lower, "upper": now + upper},
        kind=kind,
        subject_type="lms.livesession",
        whatsapp=True,
        inapp=True,
    )


def _calendars(session_ids: list[int], kind: str):
    if kind != "session_24h":
        return []
    from lms.calendar import session_calendar_context
    from lms.models import LiveSession

    sessions = LiveSession.objects.filter(pk__in=session_ids).select_related("course")
    return [(session.pk, json.dumps(session_calendar_context(session))) for session in sessions]


def plan_session_24h(conn, now) -> "Plan":
    return _session_plan(conn, kind="session_24h", now=now, lower=NOT_UNDER, upper=DAY_24H, expiry=NOT_UNDER)


def plan_payments(conn, now) -> "Plan":
    steps = sorted(set(lms_conf.payment_reminder_days))
    windows = [
        (
            day,
            now - dt.timedelta(days=day),
            now - dt.timedelta(days=steps[index + 1]) if index + 1 < len(steps) else None,
        )
        for index, day in enumerate(steps)
    ]
    amounts = conn.execute(
        """SELECT DISTINCT p.amount, p.currency, u.locale FROM lms_payment p JOIN lms_user u ON u.id = p.student_id
           WHERE p.status = 'pending'"""
    ).fetchall()
    _copy(
        conn,
        "bench_money",
        "amount numeric, currency text, locale text, formatted text",
        (
            (amount, currency, locale, format_money(amount, currency, locale=locale))
            for amount, currency, locale in amounts
        ),
    )
    _copy(conn, "bench_steps", "day int, reached timestamptz, next_step timestamptz", windows)
    return Plan(
        f"""
        SELECT {USER_FIELDS}, p.id AS subject_id, 'payment_reminder:' || p.id || ':d' || st.day AS event_key,
               NULL::timestamptz AS expires_at,
               jsonb_build_object('name', u.name, 'first_name', {_first_name("u.name")}, 'amount', m.formatted,
                   'description', p.description, 'course_title', coalesce(pc.title, ''),
                   'payment_url', coalesce(nullif(p.payment_url, ''), %(dashboard)s::text)) AS context,
               'Payment reminder: ' || m.formatted || CASE WHEN coalesce(pc.title, '') <> '' THEN ' for ' || pc.title
                   WHEN p.description <> '' THEN ' for ' || p.description ELSE ' to pay' END AS title,
               m.formatted || CASE WHEN p.description <> '' THEN ' for ' || p.description ELSE '' END
                   || ' is waiting to be paid.' AS message,
               coalesce(nullif(p.payment_url, ''), %(dashboard)s::text) AS link
        FROM bench_steps st
        JOIN lms_payment p ON p.status = 'pending' AND p.created_at <= st.reached
             AND (st.next_step IS NULL OR p.created_at > st.next_step)
        JOIN lms_user u ON u.id = p.student_id AND u.is_active
        LEFT JOIN lms_course pc ON pc.id = p.course_id
        JOIN bench_money m ON m.amount = p.amount AND m.currency = p.currency AND m.locale = u.locale
        """,
        {"dashboard": f"{settings.SITE_URL}{reverse('lms:dashboard')}"},
        kind="payment_reminder",
        subject_type="lms.payment",
        whatsapp=True,
        inapp=True,
    )
