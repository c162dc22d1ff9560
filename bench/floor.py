"""
The SQL floor of planning, on today's tables: hand-written SQL making the very rows a planning job makes,
in the app's own tables (notifications_messageevent, notifications_messagegroup, the lean
notifications_delivery rows and the in-app notifications_notification rows).

For each kind of message: its events in one INSERT ... SELECT; what the recipients of a group share (a
session's time in a zone and locale, its title and links) once per group, as MessageGroup rows; then one
INSERT ... SELECT ... ON CONFLICT DO NOTHING of the ledger rows on every channel, straight from the
recipients joined to their group, and one of the in-app rows from the same join. Kinds whose every
recipient has an event of their own (payments, leads) keep their context on the row, as the app does.
What the database cannot compute (dates and money formatted by Babel) is computed in Python once per
(event, zone, locale) or (amount, currency, locale), never per recipient (floor_before's helpers).

The checksums compare what the floor and the app made, each row by what it means (its event, recipient,
address, context, times; an in-app row's event, recipient and text): the same work, the same rows.
"""

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import psycopg
from django.conf import settings
from django.urls import reverse

from common.formatting import format_when, zone
from leads.campaigns import FOLLOW_UP_DAYS
from leads.conf import conf as leads_conf
from lms.reminders import ASSIGNMENT_WINDOW, DAY_24H, NOT_UNDER, RECORDING_NOTICE_DAYS, SOON

from .floor_before import E164, _copy, _first_name, _zones, plan_payments

USERS = "u.id AS user_id, u.email, u.phone, u.whatsapp_opt_in"
STUDENTS_OF_COURSE = """
    JOIN lms_enrollment en ON en.course_id = {course} AND en.is_active
    JOIN lms_user u ON u.id = en.student_id AND u.is_active
"""
GROUPS = "bench_group"
# A session's or recording's row keeps its student's id (sending mints their tracked links from it).
STUDENT_ID = "jsonb_build_object('student_id', u.id)"

# __ROWS__ is a SELECT of user_id, email, phone, whatsapp_opt_in, event_id, group_id, own_context, expires_at,
# title, message, link: one row per recipient of an event.
INSERT_DELIVERIES = f"""
    WITH made AS (
        INSERT INTO notifications_delivery (event_id, recipient_id, channel, to_address, group_id, own_context,
            status, attempts, next_attempt_at, priority, expires_at, provider_message_id, error_code, last_error,
            rendered_subject, rendered_text, whatsapp_category, is_test, created_at)
        SELECT p.event_id, p.user_id, c.channel, CASE c.channel WHEN 'email' THEN lower(p.email) ELSE p.phone END,
               p.group_id, p.own_context, 'pending', 0, %(now)s, %(priority)s, p.expires_at, '', '', '', '', '', '',
               false, %(now)s
        FROM (__ROWS__) p JOIN (VALUES ('email'), ('whatsapp')) AS c (channel)
          ON (c.channel = 'email' AND p.email <> '')
          OR (c.channel = 'whatsapp' AND %(whatsapp)s AND p.whatsapp_opt_in AND p.phone ~ '{E164}')
        ORDER BY 1, 2
        ON CONFLICT DO NOTHING
        RETURNING channel, event_id
    )__BUSINESS__
    SELECT count(*) FILTER (WHERE channel = 'email'), count(*) FROM made
"""
# The follow-up job flags its leads in the same transaction as it plans their emails.
FLAG_LEADS = """, flagged AS (
        UPDATE leads_lead SET {flag} = true, last_contacted_at = %(now)s
        WHERE id IN (SELECT e.subject_id FROM notifications_messageevent e WHERE e.id IN (SELECT event_id FROM made))
    )"""
INSERT_NOTIFICATIONS = """
    INSERT INTO notifications_notification (event_id, user_id, kind, title, message, link, created_at)
    SELECT p.event_id, p.user_id, %(kind)s, left(p.title, 200), p.message, p.link, %(now)s
    FROM (__ROWS__) p WHERE p.user_id IS NOT NULL
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING
"""
# Events named by a row each (payments, leads): made from the rows, then the rows joined to them.
INSERT_ROW_EVENTS = """
    INSERT INTO notifications_messageevent (kind, key, subject_type, subject_id, created_at)
    SELECT DISTINCT %(kind)s, r.event_key, %(subject_type)s, r.subject_id, %(now)s FROM (__ROWS__) r
    ON CONFLICT (key) DO NOTHING
"""
ROWS_WITH_EVENTS = """
    SELECT r.*, e.id AS event_id, NULL::bigint AS group_id
    FROM (__ROWS__) r JOIN notifications_messageevent e ON e.key = r.event_key
"""
# Groups (__GROUPS__: subject_id, tz, locale, event_key, expires_at, context, title, message, link): their
# events, then the groups stored once per (event, context), then each group's ids for the rows to join.
INSERT_GROUP_EVENTS = """
    INSERT INTO notifications_messageevent (kind, key, subject_type, subject_id, created_at)
    SELECT DISTINCT %(kind)s, g.event_key, %(subject_type)s, g.subject_id, %(now)s FROM (__GROUPS__) g
    ON CONFLICT (key) DO NOTHING
"""
MAKE_GROUPS = [
    f"DROP TABLE IF EXISTS {GROUPS}",
    f"""CREATE TEMP TABLE {GROUPS} ON COMMIT DROP AS
        SELECT g.*, e.id AS event_id, md5(g.context::text || coalesce(g.expires_at::text, '')) AS digest,
               NULL::bigint AS group_id
        FROM (__GROUPS__) g JOIN notifications_messageevent e ON e.key = g.event_key""",
    f"""INSERT INTO notifications_messagegroup (event_id, digest, context, expires_at, created_at)
        SELECT DISTINCT ON (event_id, digest) event_id, digest, context, expires_at, %(now)s FROM {GROUPS}
        ON CONFLICT (event_id, digest) DO NOTHING""",
    f"""UPDATE {GROUPS} b SET group_id = m.id FROM notifications_messagegroup m
        WHERE m.event_id = b.event_id AND m.digest = b.digest""",
    f"ANALYZE {GROUPS}",
]


@dataclass
class Plan:
    """The recipients of one kind of message, as SQL, and how to insert them."""

    rows: str  # the recipients (see INSERT_DELIVERIES), joined to bench_group when `groups` is set
    params: dict
    kind: str
    subject_type: str
    whatsapp: bool
    inapp: bool
    groups: str = ""  # the groups (see MAKE_GROUPS); none: each row names its event (rows select event_key)
    flag_leads: str = ""

    @property
    def insert_params(self) -> dict:
        from notifications.kinds import get_kind
        from notifications.services.planning import priority_for

        priority = priority_for(get_kind(self.kind))
        return {**self.params, "kind": self.kind, "subject_type": self.subject_type, "priority": priority}


# What both the floor and the app made (ids and update times aside): each ledger row's kind, event,
# recipient, address, context (its group's and its own) and times; each in-app row's event and text.
DELIVERY_CHECKSUM = """
    SELECT count(*), coalesce(sum(hashtextextended(concat_ws('|', e.kind, d.channel, e.key, e.subject_type,
        e.subject_id, d.recipient_id, d.to_address,
        (coalesce(g.context, '{}'::jsonb) || coalesce(d.own_context, '{}'::jsonb))::text, d.status, d.attempts,
        d.next_attempt_at, coalesce(d.expires_at, g.expires_at), d.priority, d.created_at), 0)), 0)
    FROM notifications_delivery d
    JOIN notifications_messageevent e ON e.id = d.event_id
    LEFT JOIN notifications_messagegroup g ON g.id = d.group_id
"""
NOTIFICATION_CHECKSUM = """
    SELECT count(*), coalesce(sum(hashtextextended(concat_ws('|', n.user_id, n.kind, n.title, n.message, n.link,
        n.read_at, n.created_at, e.key), 0)), 0)
    FROM notifications_notification n LEFT JOIN notifications_messageevent e ON e.id = n.event_id
"""


@dataclass
class FloorResult:
    recipients: int
    deliveries: int
    notifications: int
    ledger_seconds: float  # events, groups and ledger rows (notifications_delivery), committed
    total_seconds: float  # the same plus the in-app rows: everything the job makes


def checksum(conn: psycopg.Connection) -> tuple:
    """Return (deliveries, their hash, notifications, their hash) of what is in the app's tables."""
    return (*conn.execute(DELIVERY_CHECKSUM).fetchone(), *conn.execute(NOTIFICATION_CHECKSUM).fetchone())


def _session_groups(sessions, zones, *, kind: str, now) -> list[tuple]:
    """Each (session, zone, locale) group's context beside the session's own fields, made in Python once
    per group as the app does: the time in words, the day as data, the calendar invitation of the
    24-hour reminder in the reader's language (once per session and language)."""
    from lms.calendar import session_calendar_context
    from lms.models import LiveSession

    calendars = {}
    by_id = LiveSession.objects.select_related("course").in_bulk([pk for pk, _ in sessions])
    rows = []
    for pk, at in sessions:
        for tz, locale in zones:
            context = {}
            if kind == "session_24h":
                language = (locale or "en").split("_")[0]
                if (pk, language) not in calendars:
                    calendars[pk, language] = session_calendar_context(by_id[pk], language=language)
                context = dict(calendars[pk, language])
            local = zone(tz)
            local_date = at.astimezone(local).date()
            context |= {
                "session_id": pk,  # sending mints the student's tracked join (and RSVP) links from it
                **({"ask_rsvp": True} if kind == "session_24h" else {}),
                "when": format_when(at, tz=tz, locale=locale),
                "local_date": local_date.isoformat(),
                "days_away": (local_date - now.astimezone(local).date()).days,
                "day_zone": local.key,
            }
            page = "lms:session_rsvp_mine" if kind == "session_24h" else "lms:session_join_mine"
            rows.append((pk, tz, locale, json.dumps(context), f"{settings.SITE_URL}{reverse(page, args=[pk])}"))
    return rows


def _session_plan(conn, *, kind: str, now, lower: dt.timedelta, upper: dt.timedelta, expiry: dt.timedelta) -> Plan:
    sessions = conn.execute(
        "SELECT id, scheduled_at FROM lms_livesession"
        " WHERE NOT is_cancelled AND scheduled_at > %s AND scheduled_at <= %s",
        [now + lower, now + upper],
    ).fetchall()
    groups = _session_groups(sessions, _zones(conn), kind=kind, now=now)
    _copy(conn, "bench_when", "subject_id bigint, tz text, locale text, context jsonb, link text", groups)
    iso = """to_char(s.scheduled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00'"""
    # The in-app text says when relative to the moment it is read: a marker the page turns into words.
    if kind == "session_24h":
        label = "'[[day_label:' || (w.context ->> 'local_date') || ' ' || (w.context ->> 'day_zone') || ']]'"
        title = f"'Starts ' || {label} || ': ' || s.title"
        message = f"""'"' || s.title || '" [[starts:' || {iso} || ']], ' || (w.context ->> 'when') || '.'"""
    else:
        title = "'Starting Soon: ' || s.title"
        message = f"'[[Starts:' || {iso} || ']]. Join now.'"
    groups = f"""
        SELECT s.id AS subject_id, w.tz, w.locale,
               %(kind)s::text || ':' || s.id || '@' || to_char(s.scheduled_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS')
                   AS event_key,
               s.scheduled_at - %(expiry)s AS expires_at,
               w.context || jsonb_build_object('title', s.title, 'course_title', c.title, 'join_url', s.meeting_url,
                   'scheduled_at', {iso},
                   'minutes_left', greatest(1, ceil(extract(epoch FROM s.scheduled_at - %(now)s) / 60))::int)
                   AS context,
               {title} AS title, {message} AS message, w.link
        FROM lms_livesession s
        JOIN lms_course c ON c.id = s.course_id
        JOIN bench_when w ON w.subject_id = s.id
        WHERE NOT s.is_cancelled AND s.scheduled_at > %(lower)s AND s.scheduled_at <= %(upper)s
    """
    rows = f"""
        SELECT {USERS}, g.event_id, g.group_id, {STUDENT_ID} AS own_context, NULL::timestamptz AS expires_at,
               g.title, g.message, g.link
        FROM {GROUPS} g JOIN lms_livesession s ON s.id = g.subject_id
        {STUDENTS_OF_COURSE.format(course="s.course_id")} AND u.timezone = g.tz AND u.locale = g.locale
    """
    return Plan(
        rows,
        {"now": now, "expiry": expiry, "lower": now + lower, "upper": now + upper},
        kind=kind,
        subject_type="lms.livesession",
        whatsapp=True,
        inapp=True,
        groups=groups,
    )


def plan_session_24h(conn, now) -> Plan:
    return _session_plan(conn, kind="session_24h", now=now, lower=NOT_UNDER, upper=DAY_24H, expiry=NOT_UNDER)


def plan_session_15min(conn, now) -> Plan:
    return _session_plan(conn, kind="session_15min", now=now, lower=dt.timedelta(0), upper=SOON, expiry=dt.timedelta(0))


def plan_recordings(conn, now) -> Plan:
    groups = """
        SELECT r.id AS subject_id, NULL::text AS tz, NULL::text AS locale, 'recording_available:' || r.id AS event_key,
               NULL::timestamptz AS expires_at, s.course_id,
               jsonb_build_object('session_id', s.id, 'session_title', s.title, 'course_title', c.title,
                   'watch_url', r.url, 'dashboard_url', %(dashboard)s::text) AS context,
               'Recording Available: ' || s.title AS title,
               'The recording for "' || s.title || '" is ready to watch.' AS message, r.url AS link
        FROM lms_recording r
        JOIN lms_livesession s ON s.id = r.session_id
        JOIN lms_course c ON c.id = s.course_id
        WHERE r.visible_to_students AND coalesce(r.published_at, r.created_at) BETWEEN %(since)s AND %(now)s
    """
    rows = f"""
        SELECT {USERS}, g.event_id, g.group_id, {STUDENT_ID} AS own_context, NULL::timestamptz AS expires_at,
               g.title, g.message, g.link
        FROM {GROUPS} g {STUDENTS_OF_COURSE.format(course="g.course_id")}
    """
    return Plan(
        rows,
        {
            "now": now,
            "since": now - dt.timedelta(days=RECORDING_NOTICE_DAYS),
            "dashboard": f"{settings.SITE_URL}{reverse('lms:dashboard')}",
        },
        kind="recording_available",
        subject_type="lms.recording",
        whatsapp=False,
        inapp=True,
        groups=groups,
    )


def plan_assignments(conn, now) -> Plan:
    assignments = conn.execute(
        "SELECT id, deadline FROM lms_assignment WHERE deadline > %s AND deadline <= %s",
        [now, now + ASSIGNMENT_WINDOW],
    ).fetchall()
    zones = _zones(conn)
    rows = (
        (pk, tz, locale, format_when(deadline, tz=tz, locale=locale))
        for pk, deadline in assignments
        for tz, locale in zones
    )
    _copy(conn, "bench_when", "subject_id bigint, tz text, locale text, formatted text", rows)
    groups = """
        SELECT a.id AS subject_id, w.tz, w.locale, 'assignment_due:' || a.id AS event_key, a.deadline AS expires_at,
               a.course_id,
               jsonb_build_object('title', a.title, 'course_title', c.title, 'deadline', w.formatted,
                   'submit_url', %(site)s::text || '/assignments/' || a.id || '/') AS context,
               'Assignment Due Soon: ' || a.title AS title,
               'Due ' || w.formatted || '. Submit before the deadline.' AS message,
               %(site)s::text || '/assignments/' || a.id || '/' AS link
        FROM lms_assignment a
        JOIN lms_course c ON c.id = a.course_id
        JOIN bench_when w ON w.subject_id = a.id
        WHERE a.deadline > %(now)s AND a.deadline <= %(until)s
    """
    rows = f"""
        SELECT {USERS}, g.event_id, g.group_id, NULL::jsonb AS own_context, NULL::timestamptz AS expires_at,
               g.title, g.message, g.link
        FROM {GROUPS} g {STUDENTS_OF_COURSE.format(course="g.course_id")} AND u.timezone = g.tz AND u.locale = g.locale
        WHERE NOT EXISTS (SELECT 1 FROM lms_submission x WHERE x.assignment_id = g.subject_id AND x.student_id = u.id)
    """
    return Plan(
        rows,
        {"now": now, "until": now + ASSIGNMENT_WINDOW, "site": settings.SITE_URL},
        kind="assignment_due",
        subject_type="lms.assignment",
        whatsapp=False,
        inapp=True,
        groups=groups,
    )


def plan_payments_today(conn, now) -> Plan:
    """An event per payment and step: the row keeps its context (an amount is the recipient's own)."""
    before = plan_payments(conn, now)  # fills bench_money and bench_steps; its SELECT is per recipient already
    rows = f"""
        SELECT b.user_id, b.email, b.phone, b.whatsapp_opt_in, b.subject_id, b.event_key,
               NULL::timestamptz AS expires_at, b.context - 'name' - 'first_name' AS own_context,
               b.title, b.message, b.link
        FROM ({before.sql}) b
    """
    return Plan(rows, before.params, kind=before.kind, subject_type=before.subject_type, whatsapp=True, inapp=True)


def plan_lead_day(conn, now, *, day: int) -> Plan:
    """One follow-up day: an event per lead, the row keeping the lead's context (and the leads' flag update)."""
    kind = FOLLOW_UP_DAYS[day]
    extra = {}
    if day == 7:
        extra = {
            "offer_discount": leads_conf.offer_discount_percent,
            "offer_resources": list(leads_conf.offer_resources),
            "offer_ends_at": (now + dt.timedelta(days=leads_conf.offer_valid_days)).isoformat(),
        }
    window = "AND NOT l.follow_up_day3_sent AND l.first_contacted_at > %(week_ago)s" if day == 3 else ""
    flag = "follow_up_day3_sent" if day == 3 else "follow_up_day7_sent"
    return Plan(
        f"""
        SELECT NULL::bigint AS user_id, l.email, '' AS phone, false AS whatsapp_opt_in,
               l.id AS subject_id, %(kind)s::text || ':' || l.id AS event_key, NULL::timestamptz AS expires_at,
               jsonb_build_object('name', l.name, 'first_name', {_first_name("l.name")},
                   'lead_id', l.id) || %(extra)s::jsonb AS own_context,
               NULL AS title, NULL AS message, NULL AS link
        FROM leads_lead l JOIN leads_leadcampaign c ON c.id = l.campaign_id AND c.status = 'active'
        WHERE l.status = 'contacted' AND l.first_contacted_at <= %(due)s AND NOT l.follow_up_day7_sent {window}
          AND NOT EXISTS (SELECT 1 FROM notifications_suppression s
                          WHERE s.channel = 'email' AND s.address = l.email AND s.category IN ('', 'marketing'))
        """,
        {
            "kind": kind,
            "extra": json.dumps(extra),
            "due": now - dt.timedelta(days=day),
            "week_ago": now - dt.timedelta(days=7),
        },
        kind=kind,
        subject_type="leads.lead",
        whatsapp=False,
        inapp=False,
        flag_leads=flag,
    )


FLOORS: dict[str, list[Callable]] = {
    "session_reminders_24h": [plan_session_24h],
    "session_reminders_15min": [plan_session_15min],
    "recording_notifications": [plan_recordings],
    "assignment_reminders": [plan_assignments],
    "payment_reminders": [plan_payments_today],
    # Day 7 first, as the job does: a late lead gets the last email only.
    "lead_follow_ups": [partial(plan_lead_day, day=day) for day in sorted(FOLLOW_UP_DAYS, reverse=True)],
}


def run_floor(conn: psycopg.Connection, *, job: str, now: dt.datetime) -> FloorResult:
    """Make the job's rows with hand-written SQL in one transaction; return the counts and times."""
    result = FloorResult(0, 0, 0, 0.0, 0.0)
    inapp_seconds = 0.0
    started = time.perf_counter()
    with conn.transaction():
        for build in FLOORS[job]:
            plan = build(conn, now)
            params = {**plan.insert_params, "now": now, "whatsapp": plan.whatsapp}
            if plan.groups:
                conn.execute(INSERT_GROUP_EVENTS.replace("__GROUPS__", plan.groups), params)
                for sql in MAKE_GROUPS:
                    # Bound in the client: the server takes no parameters in CREATE TABLE AS.
                    psycopg.ClientCursor(conn).execute(sql.replace("__GROUPS__", plan.groups), params)
                rows = plan.rows
            else:
                conn.execute(INSERT_ROW_EVENTS.replace("__ROWS__", plan.rows), params)
                rows = ROWS_WITH_EVENTS.replace("__ROWS__", plan.rows)
            business = FLAG_LEADS.format(flag=plan.flag_leads) if plan.flag_leads else ""
            statement = INSERT_DELIVERIES.replace("__ROWS__", rows).replace("__BUSINESS__", business)
            emails, deliveries = conn.execute(statement, params).fetchone()
            result.deliveries += deliveries
            result.recipients += emails
            if plan.inapp:
                clock = time.perf_counter()
                result.notifications += conn.execute(INSERT_NOTIFICATIONS.replace("__ROWS__", rows), params).rowcount
                inapp_seconds += time.perf_counter() - clock
    result.total_seconds = time.perf_counter() - started
    result.ledger_seconds = result.total_seconds - inapp_seconds
    result.recipients = max(result.recipients, result.notifications)
    return result
