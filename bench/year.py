"""
A year of ledger, simulated: does the retention job keep it within its window, and does planning stay fast?

Day after simulated day, a day's deliveries are added as they are once sent (the context, the rendered
text, a history event each), created on that day; once a simulated week, the retention job
(`purge_old_deliveries`, with the app's NOTIFICATIONS_RETENTION_DAYS) runs at that day, followed by a
plain VACUUM, as autovacuum would have run over a real week. The ledger's size (pg_total_relation_size of
the deliveries, their events and the daily counts) is taken after each purge.

The daily volume is scaled down (the large size's 24-hour job alone makes 2.3M rows a day): in steady
state the ledger holds the window's days of rows, whatever the volume, so the figures are in days and
ratios. Then the 24-hour job plans its reminders into that ledger and into an empty one: the ratio of
the two times says what a full window costs planning.
"""

import datetime as dt
import time
from dataclasses import dataclass, field

import psycopg

from .ledger import table_bytes
from .planning import empty_ledger
from .sizes import Size

DAYS = 365
PURGE_EVERY_DAYS = 7
DAILY_ROWS = {"small": 2_000, "medium": 4_000, "large": 10_000}
TABLES = (
    "notifications_delivery",
    "notifications_deliveryevent",
    "notifications_deliverydailycount",
    "notifications_messageevent",
    "notifications_messagegroup",
)

# A day's session reminders as they are once delivered: the event and its shared context once, a row
# per student with what was sent (the rendered text) and its history.
ADD_DAY = """
    WITH event AS (
        INSERT INTO notifications_messageevent (kind, key, subject_type, subject_id, created_at)
        VALUES ('session_24h', 'session_24h:yearsim:' || %(day)s::text, 'lms.livesession', %(day)s %% 40 + 1, %(at)s)
        RETURNING id
    ), shared AS (
        INSERT INTO notifications_messagegroup (event_id, digest, context, expires_at, created_at)
        SELECT id, 'yearsim', jsonb_build_object('title', 'Live class 12: Data Science',
                   'course_title', 'Course 12: Data Science', 'join_url', 'https://meet.example.com/s12',
                   'scheduled_at', '2026-11-25T04:30:00+00:00', 'minutes_left', 900,
                   'when', 'Wed, 25 Nov 2026, 10:00 AM IST', 'day_label', 'Tomorrow', 'day_phrase', 'tomorrow'),
               %(at)s + interval '20 hours', %(at)s
        FROM event
        RETURNING id, event_id
    ), made AS (
        INSERT INTO notifications_delivery (event_id, group_id, recipient_id, channel, to_address, status, attempts,
            next_attempt_at, provider_message_id, rendered_subject, rendered_text, created_at, updated_at, sent_at,
            delivered_at, is_test, priority)
        SELECT shared.event_id, shared.id, n %% %(students)s + 1, 'email', 'student' || n || '@example.com',
               'delivered', 1, %(at)s, 'pm-' || md5(%(day)s::text || n),
               'Starts Tomorrow: Live class 12: Data Science', %(text)s, %(at)s, %(at)s, %(at)s + interval '1 minute',
               %(at)s + interval '2 minutes', false, 1
        FROM shared CROSS JOIN generate_series(1, %(rows)s) n
        RETURNING id
    )
    INSERT INTO notifications_deliveryevent (delivery_id, at, status, detail)
    SELECT id, %(at)s + interval '1 minute', 'sent', 'Accepted by the provider.' FROM made
"""
TEXT = (
    'Hi Asha,\n\nYour session "Live class 12: Data Science" starts tomorrow, Wed, 25 Nov 2026, 10:00 AM IST.\n\n'
    "Course: Course 12: Data Science\nJoin here: https://meet.example.com/s12\n\nAdd it to your calendar: "
    "https://calendar.google.com/calendar/render?action=TEMPLATE&text=Live+class+12\n\nSee you there!\n"
    "CourseHub\n\nWhy am I getting this? You are enrolled in Course 12. Change what we send you: [link]\n"
)


@dataclass
class YearResult:
    daily_rows: int
    retention_days: int
    days: int = 0
    seconds: float = 0.0
    purge_seconds: float = 0.0  # the retention job's runs, in all
    sizes: list = field(default_factory=list)  # (day, rows, bytes) after each purge
    bytes_per_row: float = 0.0  # in the full window, all tables
    plan_empty_seconds: float = 0.0
    plan_full_seconds: float = 0.0
    planned_rows: int = 0
    note: str = ""

    @property
    def window_bytes(self) -> int:
        """The ledger's size when the window first filled (the first purge that removed a day)."""
        full = [size for day, rows, size in self.sizes if day >= self.retention_days + PURGE_EVERY_DAYS]
        return full[0] if full else 0

    @property
    def max_bytes_after_window(self) -> int:
        return max((size for day, _, size in self.sizes if day >= self.retention_days + PURGE_EVERY_DAYS), default=0)

    @property
    def max_rows(self) -> int:
        return max((rows for _, rows, _ in self.sizes), default=0)

    @property
    def growth(self) -> float:
        """The largest size after the window filled, over the size when it filled."""
        return self.max_bytes_after_window / self.window_bytes if self.window_bytes else float("nan")

    @property
    def planning_ratio(self) -> float:
        return self.plan_full_seconds / self.plan_empty_seconds if self.plan_empty_seconds else float("nan")


def run_year(conn: psycopg.Connection, *, size: Size, now: dt.datetime, deadline: float) -> YearResult:
    """Simulate a year of ledger with the retention job; then plan the 24-hour job into it and into an empty one."""
    from notifications.conf import conf
    from notifications.services.retention import purge_old_deliveries

    result = YearResult(daily_rows=DAILY_ROWS.get(size.name, 4_000), retention_days=conf.retention_days)
    empty_ledger(conn, size=size, now=now)
    conn.execute("TRUNCATE notifications_deliverydailycount")
    conn.execute("VACUUM notifications_delivery, notifications_deliveryevent")
    start = (now - dt.timedelta(days=DAYS)).replace(hour=4, minute=0, second=0)
    clock = time.perf_counter()
    for day in range(DAYS):
        if time.monotonic() > deadline:
            result.note = f"stopped at day {day} (time budget)"
            break
        at = start + dt.timedelta(days=day)
        params = {"day": day, "at": at, "rows": result.daily_rows, "students": size.students, "text": TEXT}
        conn.execute(ADD_DAY, params)
        result.days = day + 1
        if (day + 1) % PURGE_EVERY_DAYS == 0:
            purged = time.perf_counter()
            purge_old_deliveries(now=at + dt.timedelta(hours=20))
            result.purge_seconds += time.perf_counter() - purged
            conn.execute("VACUUM notifications_delivery, notifications_deliveryevent")
            rows = conn.execute("SELECT count(*) FROM notifications_delivery").fetchone()[0]
            result.sizes.append((day + 1, rows, table_bytes(conn, TABLES)[0]))
    result.seconds = time.perf_counter() - clock
    if result.sizes:
        _, rows, total = result.sizes[-1]
        result.bytes_per_row = total / rows if rows else 0.0
    _compare_planning(conn, result=result, size=size, now=now)
    return result


def _compare_planning(conn: psycopg.Connection, *, result: YearResult, size: Size, now: dt.datetime) -> None:
    """Plan the 24-hour job into the year's ledger, then into an empty one; keep both times."""
    from django.db import connection

    from automation.jobs import get_job

    plan = get_job("session_24h").function
    plan(now=now, dry_run=True)  # imports, templates and formats warmed up before either measurement
    conn.execute("ANALYZE notifications_delivery")
    # Each measurement starts with nothing left to write: the year's simulation leaves its dirty pages and
    # WAL behind, whose checkpoint would otherwise run during the first measurement.
    conn.execute("CHECKPOINT")
    clock = time.perf_counter()
    planned = plan(now=now, dry_run=False)
    result.plan_full_seconds = time.perf_counter() - clock
    result.planned_rows = planned.total
    connection.close()
    empty_ledger(conn, size=size, now=now)
    conn.execute("TRUNCATE notifications_deliverydailycount")
    conn.execute("VACUUM ANALYZE notifications_delivery")
    conn.execute("CHECKPOINT")
    clock = time.perf_counter()
    plan(now=now, dry_run=False)
    result.plan_empty_seconds = time.perf_counter() - clock
    connection.close()
