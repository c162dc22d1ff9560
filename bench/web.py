"""
Web: server time and queries of the notifications page and the unread badge for a heavy reader.

The reader has 100,000 notifications (1 in 50 unread) among everyone else's. Pages are requested
in-process with Django's test client, so the time is the server's (middleware, view, template), with
no network. When the page does not exist yet the ORM read it would make is measured instead.
"""

from dataclasses import dataclass

import psycopg
from django.contrib.auth import get_user_model
from django.test import Client

from notifications.models import Notification
from notifications.services.inapp import NOTIFICATIONS_PER_PAGE as PAGE_SIZE
from notifications.services.inapp import cursor, get_unread_notification_count

from .data import heavy_user_id
from .sizes import Size
from .timing import counting_queries, median_time

PAGE = "/notifications/"


@dataclass
class WebRow:
    what: str
    milliseconds: float | None
    queries: int | None
    note: str = ""


def add_notifications(conn: psycopg.Connection, *, size: Size, now) -> None:
    """Give the heavy reader a long history: one notification every 5 minutes, 1 in 50 unread."""
    conn.execute(
        """
        INSERT INTO notifications_notification (user_id, kind, title, message, link, read_at, created_at)
        SELECT %(user)s, 'session_24h', 'Starts Tomorrow: Live class ' || n,
               '"Live class ' || n || '" starts tomorrow, Wed, 25 Nov 2026, 10:00 am IST.',
               'https://meet.example.com/s' || n,
               CASE WHEN n %% 50 = 0 THEN NULL ELSE %(now)s - n * interval '5 minutes' + interval '1 hour' END,
               %(now)s - n * interval '5 minutes'
        FROM generate_series(1, %(count)s) n
        """,
        {"user": heavy_user_id(size), "now": now, "count": size.heavy_user_notifications},
    )
    # Autovacuum would have set the visibility map by now; without it index-only scans visit the heap.
    conn.execute("VACUUM (ANALYZE) notifications_notification")


def _measure(what: str, function, note: str = "") -> WebRow:
    # Not CaptureQueriesContext: a request resets the query log (request_started -> reset_queries).
    with counting_queries() as counter:
        function()
    return WebRow(what, 1000 * median_time(function), counter.counted.queries, note)


def run_web(conn: psycopg.Connection, *, size: Size, now) -> list[WebRow]:
    add_notifications(conn, size=size, now=now)
    user = get_user_model().objects.get(pk=heavy_user_id(size))
    client = Client()
    client.force_login(user)
    rows = []
    try:
        status = client.get(PAGE).status_code
    except Exception as exc:  # the page is being built by someone else: say what happened
        status, error = None, f"{type(exc).__name__}: {exc}"
    else:
        error = ""
    if status == 200:
        rows.append(_measure(f"GET {PAGE} (first page)", lambda: client.get(PAGE)))
        last = Notification.objects.filter(user=user).order_by("created_at", "id")[PAGE_SIZE]  # the last page's start
        rows.append(_measure(f"GET {PAGE}?older=... (last page)", lambda: client.get(PAGE, {"older": cursor(last)})))
    else:
        why = error or f"GET {PAGE} answered {status}"
        rows.append(WebRow(f"GET {PAGE}", None, None, f"not measured: {why}"))
    rows.append(_measure("badge: get_unread_notification_count()", lambda: get_unread_notification_count(user=user)))
    newest = Notification.objects.filter(user=user).order_by("-created_at", "-id")  # as the page orders them
    rows.append(_measure("newest 25 (ORM, as a page reads them)", lambda: list(newest[:25])))
    rows.append(_measure("count of all (as a paginator counts)", lambda: newest.count()))
    rows.append(_measure("25 at offset 99,975 (ORM, last page)", lambda: list(newest[99_975:100_000])))
    return rows
